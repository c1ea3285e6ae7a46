#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the whole product on this machine, offline: `researchbot dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/researchbot dev "$@"
