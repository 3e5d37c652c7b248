#!/usr/bin/env bash
# The browser tests drive the system's Chromium, never a downloaded one:
# $JAXBOOK_CHROMIUM if set, else Debian's /usr/bin/chromium. When neither is
# there, install Debian's package if we may (root, or sudo without a password);
# otherwise stop with one line saying what to run. (`make test` runs this.)
set -euo pipefail
debian_chromium="${JAXBOOK_DEBIAN_CHROMIUM:-/usr/bin/chromium}"  # where Debian's package puts it
for browser in "${JAXBOOK_CHROMIUM:-}" "$debian_chromium"; do
  if [ -n "$browser" ] && [ -x "$browser" ]; then exit 0; fi
done
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "make test needs Chromium for its browser tests: run 'sudo apt-get install -y chromium' (or set JAXBOOK_CHROMIUM to a Chrome/Chromium binary), then make test again." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "make test needs Chromium for its browser tests and this system has no apt-get: install Chromium and set JAXBOOK_CHROMIUM to its binary, then make test again." >&2
  exit 1
fi
echo "Installing Debian's chromium for the browser tests (apt-get)..."
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
