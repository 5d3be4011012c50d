#!/usr/bin/env bash
# Install libfaketime (Debian package `libfaketime`) for the test that runs a local controller's hour
# offline under a simulated wall clock (tests/integration/faked_wall_clock.py), when missing.
#
# Idempotent: does nothing when the library is there. Otherwise, as root (or through sudo) on
# Debian/Ubuntu, runs `apt-get update` and `apt-get install -y --no-install-recommends libfaketime`.
# Exits non-zero with a message that says why when it cannot install.
set -euo pipefail

say() { printf 'install-faketime: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
present() { compgen -G '/usr/lib/*/faketime/libfaketimeMT.so.1' >/dev/null; }

present && exit 0
command -v apt-get >/dev/null 2>&1 || die "libfaketime missing and no apt-get here; install libfaketime by hand"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        die "libfaketime missing; installing it needs root (run as root or with passwordless sudo)"
    fi
fi

export DEBIAN_FRONTEND=noninteractive
say "installing the Debian package 'libfaketime' (apt-get update + install)"
"${SUDO[@]}" apt-get update -qq || die "apt-get update failed (network or sources.list?)"
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends libfaketime || die "apt-get install libfaketime failed"
present || die "the package installed but no /usr/lib/*/faketime/libfaketimeMT.so.1"
say "installed: libfaketime $(dpkg-query -W -f='${Version}' libfaketime)"
