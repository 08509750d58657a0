# Shared helpers for scripts/quickstart and scripts/test (sourced, not run).

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Make sure python3 (3.11+) with venv support exists; install it from the distro if not.
ensure_python() {
    if ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "==> installing python3 and python3-venv"
        as_root apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv
    fi
}

# Create (or refresh) a virtual environment at $1 and pip-install $2 into it
# (e.g. "-e .[dev]" for development, "." for a plain install).
ensure_venv() {
    local venv=$1; shift
    if [ ! -x "$venv/bin/python" ]; then
        echo "==> creating virtual environment $venv"
        python3 -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" \
        2> >(grep -v '^WARNING: Location' >&2)
}
