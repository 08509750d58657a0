#!/bin/sh
# Wait until a freshly started build container is ready for a build: systemd has booted
# (so the boot's /tmp cleanup is over) and the apt hosts resolve. POSIX sh: any base image.
# Arguments: SECONDS [HOST...]; no HOST means the hosts of the apt sources (if any).
limit=$1; shift
tries=$((limit * 5))

waited() { tries=$((tries - 1)); [ "$tries" -gt 0 ] && sleep 0.2; }

if command -v systemctl >/dev/null 2>&1; then
    until state=$(systemctl is-system-running --wait 2>/dev/null); [ "$state" = running ] ||
            [ "$state" = degraded ]; do
        waited || { echo "systemd did not finish booting (state: ${state:-no answer})"; exit 1; }
    done
fi

# shellcheck disable=SC2046 # one word per host is the point
[ $# -gt 0 ] || set -- $(cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null |
    grep -oE 'https?://[^/ ]+' | sed -E 's#^https?://##; s#:[0-9]+$##' | sort -u)
for host in "$@"; do
    until getent hosts "$host" >/dev/null; do
        waited || { echo "cannot resolve $host: no network or DNS"; exit 1; }
    done
done
