#!/usr/bin/env bash
# A slim image for coi's own integration tests: common base (code user, sudo, tmux, dummy).
set -euo pipefail
. "${COI_BUILD_DIR:-$(dirname "$0")}/common.sh"
finish_image
