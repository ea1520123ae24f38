#!/usr/bin/env bash
# Installs the browser the dashboard's browser test drives, once: Debian's chromium, at
# /usr/bin/chromium (Playwright's own browser download cannot work here: no internet). Playwright
# launches it with executable_path='/usr/bin/chromium' (tests/e2e/test_dashboard_browser.py).
#   apt:    chromium (no recommends: no fonts-liberation etc. beyond its own dependencies)
# Skipped when /usr/bin/chromium exists (a second run takes well under a second).
set -euo pipefail
CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

echo "install: apt package chromium (the dashboard's browser test; once, ~1-3 min)"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# DPkg::Lock::Timeout: wait for another apt run (install.sh, a second helper) instead of failing.
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
  --no-install-recommends chromium >/dev/null
if [ ! -x "$CHROMIUM" ]; then
  echo "install: chromium installed but $CHROMIUM is missing" >&2
  exit 1
fi
"$CHROMIUM" --version
