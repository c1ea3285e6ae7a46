#!/usr/bin/env bash
# Installs everything ResearchBot needs on a fresh Debian machine: system packages and a venv.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${SKIP_APT:-0}" != 1 ]] && command -v apt-get >/dev/null; then
  missing=()
  for pkg in chromium fonts-noto-color-emoji; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    SUDO=$([[ $(id -u) == 0 ]] && echo "" || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[test]"
