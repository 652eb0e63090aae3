#!/usr/bin/env bash
# Install what the viewer's browser tests need: Debian's Chromium and the Playwright Python
# client. Idempotent. Never downloads a Playwright browser build (`playwright install` is not
# run): the tests drive /usr/bin/chromium.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver
fi

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c "import playwright" 2>/dev/null; then
    "$PYTHON" -m pip install --quiet --disable-pip-version-check playwright
fi

/usr/bin/chromium --version
