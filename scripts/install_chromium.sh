#!/usr/bin/env bash
# Install headless Chromium and its WebDriver from Debian (the web demo's browser test).
#
# Usage: scripts/install_chromium.sh
#   Installs Debian's chromium and chromium-driver with apt-get (sudo when not root),
#   unless both are already on PATH. Playwright's or Selenium's own browser downloads
#   need the open internet; apt works where only the package mirrors are reachable.
#   Safe to run again.
set -euo pipefail

if command -v chromium > /dev/null && command -v chromedriver > /dev/null; then
    echo "chromium and chromedriver already installed"
    exit 0
fi
sudo=""
if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends \
    chromium chromium-driver
echo "installed $(chromium --version) and $(chromedriver --version | head -1)"
