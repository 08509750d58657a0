#!/usr/bin/env bash
# A slim image for coi's own integration tests: common base (code user, sudo, tmux, dummy).
set -euo pipefail
. /tmp/coi-build/common.sh
apt-get clean
rm -rf /var/lib/apt/lists/* /tmp/coi-build
