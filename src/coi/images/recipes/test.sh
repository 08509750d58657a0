#!/usr/bin/env bash
# A slim image for coi's own integration tests: common base (code user, sudo, tmux, dummy)
# and a minimal python3 (socket, subprocess, base64, os.dup2: what the monitor tests'
# obfuscated reverse shell needs; the full python3 with its -dev chain is not needed).
set -euo pipefail
. "${COI_BUILD_DIR:-$(dirname "$0")}/common.sh"

phase "install python3-minimal"
apt-get install -y -q --no-install-recommends python3-minimal
finish_image
