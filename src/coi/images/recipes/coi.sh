#!/usr/bin/env bash
# The default `coi` image: common base plus development tools, Docker, gh and the AI tools.
# Inputs (environment), besides common.sh's: COI_TOOLS, a comma-separated list of AI tools
# to install (claude, opencode, aider, codex; default "claude,opencode").
set -euo pipefail
. "${COI_BUILD_DIR:-$(dirname "$0")}/common.sh"

phase "install development tools"
apt-get install -y -q --no-install-recommends \
    build-essential pkg-config python3 python3-pip python3-venv pipx nodejs npm \
    ripgrep fd-find tree strace lsof sqlite3 dnsutils iputils-ping netcat-openbsd

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
    echo "coi: Node.js $(node --version) is too old: the AI tools need Node.js 18 or newer" >&2
    exit 1
fi

phase "install docker and gh"
apt-get install -y -q --no-install-recommends docker.io iptables gh
usermod -aG docker code
# `incus exec --user 1000 --group 1000` (how coi runs tools) sets no supplementary groups,
# so membership in `docker` is not enough: the socket itself belongs to group code.
mkdir -p /etc/systemd/system/docker.socket.d
printf '[Socket]\nSocketGroup=code\n' > /etc/systemd/system/docker.socket.d/coi.conf

export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
tools=",${COI_TOOLS:-claude,opencode},"
npm_pkgs=()
case $tools in *,claude,*) npm_pkgs+=("@anthropic-ai/claude-code") ;; esac
case $tools in *,opencode,*) npm_pkgs+=("opencode-ai") ;; esac
case $tools in *,codex,*) npm_pkgs+=("@openai/codex") ;; esac
if [ ${#npm_pkgs[@]} -gt 0 ]; then
    phase "install AI tools from npm: ${npm_pkgs[*]}"
    npm install -g --no-fund --no-audit --loglevel=error "${npm_pkgs[@]}"
fi
case $tools in *,aider,*)
    phase "install aider"
    # pip in pipx's venvs trusts its own certifi bundle: give it the system one.
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIPX_HOME=/opt/pipx PIPX_BIN_DIR=/usr/local/bin \
        pipx install aider-chat ;;
esac

finish_image
