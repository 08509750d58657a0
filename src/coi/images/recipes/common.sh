#!/usr/bin/env bash
# Shared first part of every coi image recipe. Runs as root inside the build container,
# sourced by the recipe from the directory coi pushed it to ($COI_BUILD_DIR).
# Inputs (environment): COI_APT_MIRROR (replace the distro mirror), COI_APT_PROXY (http proxy
# for apt), COI_CODE_UID (uid/gid of the `code` user, default 1000), COI_BUILD_DIR (where
# coi put the recipe files; default: this recipe's directory).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
COI_BUILD_DIR=${COI_BUILD_DIR:-$(dirname "$0")}

phase() { echo "::phase:: $*"; }   # coi shows these as progress phases

# The last step of every recipe: leave a small image that boots as a new machine.
finish_image() {
    phase "clean up"
    apt-get clean
    rm -rf /var/lib/apt/lists/* /root/.npm /root/.cache
    # Each container must get its own machine id (DHCP client id, journal); and its own
    # name as hostname, which LXC sets when /etc/hostname does not override it.
    : > /etc/machine-id
    rm -f /var/lib/dbus/machine-id /etc/hostname
}

phase "configure apt"
if [ -n "${COI_APT_PROXY:-}" ]; then
    printf 'Acquire::http::Proxy "%s";\nAcquire::https::Proxy "%s";\n' \
        "$COI_APT_PROXY" "$COI_APT_PROXY" > /etc/apt/apt.conf.d/01coi-proxy
fi
if [ -n "${COI_APT_MIRROR:-}" ]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        sed -i -E "s#https?://(deb|archive|security)\.(debian\.org|ubuntu\.com)/[a-z-]+#${COI_APT_MIRROR%/}#g" "$f"
    done
fi
# Trust what the host trusts: certificates coi copied to /usr/local/share/ca-certificates.
update-ca-certificates >/dev/null 2>&1 || true
apt-get update -q

phase "install base packages"
apt-get install -y -q --no-install-recommends \
    ca-certificates locales sudo tmux bash-completion less procps psmisc curl git jq \
    openssh-client unzip xz-utils file

phase "create the code user"
code_uid=${COI_CODE_UID:-1000}
if ! id code >/dev/null 2>&1; then
    # An image that ships a default user at that uid (ubuntu) gives it up to `code`.
    existing=$(getent passwd "$code_uid" | cut -d: -f1 || true)
    if [ -n "$existing" ]; then
        usermod -l code -d /home/code -m "$existing"
        groupmod -n code "$(id -gn code)" 2>/dev/null || true
    else
        groupadd -g "$code_uid" code
        useradd -m -u "$code_uid" -g "$code_uid" -s /bin/bash code
    fi
fi
echo 'code ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-code
chmod 0440 /etc/sudoers.d/90-code
mkdir -p /workspace && chown code:code /workspace

# A UTF-8 locale: agents' terminal interfaces render badly without one.
sed -i 's/^# *en_US.UTF-8/en_US.UTF-8/' /etc/locale.gen 2>/dev/null || true
grep -q '^en_US.UTF-8' /etc/locale.gen 2>/dev/null || echo 'en_US.UTF-8 UTF-8' >> /etc/locale.gen
locale-gen >/dev/null
update-locale LANG=en_US.UTF-8
printf 'LANG=en_US.UTF-8\nLC_ALL=en_US.UTF-8\n' > /etc/default/locale

# Node trusts only its bundled CAs unless told: point it at the system bundle.
grep -q '^NODE_EXTRA_CA_CERTS=' /etc/environment 2>/dev/null ||
    printf 'NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\n' >> /etc/environment

# Inside the sandbox, powering off is how an agent or user ends the session.
for cmd in poweroff halt reboot shutdown; do
    printf '#!/bin/sh\nexec sudo /usr/sbin/%s "$@"\n' "$cmd" > "/usr/local/bin/$cmd"
    chmod 0755 "/usr/local/bin/$cmd"
done
printf 'set -g history-limit 50000\nset -sg escape-time 10\nset -g default-terminal "tmux-256color"\n' \
    > /etc/tmux.conf

if [ -f "$COI_BUILD_DIR/dummy" ]; then
    install -m 0755 "$COI_BUILD_DIR/dummy" /usr/local/bin/dummy
fi
