#!/usr/bin/env bash
# One-time set-up, safe to run again: npm dependencies, a WebGPU adapter for Node and Chromium
# for the browser tests. Each step does nothing when what it provides is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

# npm dependencies: install when missing or when the lock file changed since the last install.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
  [ package.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  if [ -f package-lock.json ] && [ ! -d node_modules ]; then
    npm ci --no-audit --no-fund --loglevel=error
  else
    npm install --no-audit --no-fund --loglevel=error
  fi
fi

bash scripts/ensure-webgpu.sh

# Headless Chromium (WebGPU through SwiftShader) for the browser test suites.
if [ -z "${PFGMPP_SKIP_BROWSER:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
  else
    say "chromium is missing: install it (Debian: apt-get install chromium) for the browser tests,"
    say "or set PFGMPP_SKIP_BROWSER=1 to skip them (they are then reported as skipped)."
    exit 1
  fi
fi

# NumPy for the interop test (packages/io/test/npy.test.ts reads what numpy writes and back).
# Without it that test skips, and CI counts the skip as a failure.
if [ -z "${PFGMPP_SKIP_NUMPY:-}" ] && ! python3 -c 'import numpy' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's python3-numpy for the NumPy interop test"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq python3-numpy >/dev/null
  else
    say "python3 with numpy is missing: the NumPy interop test will be skipped"
    say "(Debian: apt-get install python3-numpy; CI counts that skip as a failure)."
  fi
fi
