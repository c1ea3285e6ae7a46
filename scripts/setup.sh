#!/usr/bin/env bash
# Installs everything ResearchBot needs on a fresh Debian machine: system packages and a venv.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${SKIP_APT:-0}" != 1 ]] && command -v apt-get >/dev/null; then
  missing=()
  for pkg in chromium fonts-noto-color-emoji poppler-utils; do  # poppler-utils: pdftotext reads exported PDFs back
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

# MCP servers the tests run over stdio (tests/mcp_servers/package.json, pinned by its lock file): installed
# into the repo, never globally. It needs Node 20 or newer; apt installs Node where the machine has none.
if ! command -v npm >/dev/null && [[ "${SKIP_APT:-0}" != 1 ]] && command -v apt-get >/dev/null; then
  SUDO=$([[ $(id -u) == 0 ]] && echo "" || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
if [[ ! tests/mcp_servers/node_modules/.package-lock.json -nt tests/mcp_servers/package-lock.json ]]; then
  npm ci --prefix tests/mcp_servers --no-audit --no-fund --loglevel=error >/dev/null
fi
