#!/usr/bin/env bash
# Set up a virtualenv with everything the tests need, then run the whole suite.
# Debian packages the tests drive for real: chromium (browser tests), nodejs + npm (the browser kernels' parity
# tests and the OpenID provider), haproxy (the load-balanced web tier). Each is installed only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
if [ ${#missing[@]} -gt 0 ]; then
  (apt-get update -qq && apt-get install -y -qq "${missing[@]}") >/dev/null \
    || { echo "could not install Debian's ${missing[*]} (needed by the browser, JS and web-tier tests)"; exit 1; }
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -r requirements-dev.txt
if [ -f package-lock.json ]; then
  npm ci --silent --no-audit --no-fund >/dev/null || { echo "npm ci failed: the JS test dependencies in package-lock.json could not be installed"; exit 1; }
fi
exec .venv/bin/python -m pytest "$@"
