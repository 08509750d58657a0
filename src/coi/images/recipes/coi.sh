#!/usr/bin/env bash
# The default `coi` image: common base plus development tools, Docker, gh and the AI tools.
# Inputs (environment), besides common.sh's: COI_TOOLS, a comma-separated list of AI tools
# to install (claude, opencode, aider, codex; default "claude,opencode").
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
. /tmp/coi-build/common.sh

phase "install development tools"
apt-get install -y -q --no-install-recommends \
    build-essential pkg-config python3 python3-pip python3-venv pipx nodejs npm \
    ripgrep fd-find tree strace lsof sqlite3 dnsutils iputils-ping netcat-openbsd

phase "install docker and gh"
apt-get install -y -q --no-install-recommends docker.io iptables gh
usermod -aG docker code

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
    PIPX_HOME=/opt/pipx PIPX_BIN_DIR=/usr/local/bin pipx install aider-chat ;;
esac

phase "clean up"
apt-get clean
rm -rf /var/lib/apt/lists/* /root/.npm /tmp/coi-build
