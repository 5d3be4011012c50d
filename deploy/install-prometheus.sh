#!/usr/bin/env bash
# Install Prometheus (the `prometheus` and `promtool` binaries) for the metrics tests, when missing.
#
# Idempotent: does nothing when both binaries are on PATH. Otherwise, as root (or through sudo) on
# Debian/Ubuntu, runs `apt-get update` and `apt-get install -y --no-install-recommends prometheus`.
# The tests start their own Prometheus on 127.0.0.1 and a free port, so the Debian service's daemon
# (which would listen on :9090) is kept from starting during the install by a temporary policy-rc.d
# and, should it run anyway, is stopped and disabled afterwards. Exits non-zero with a message that
# says why when it cannot install.
set -euo pipefail

say() { printf 'install-prometheus: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    exit 0
fi

command -v apt-get >/dev/null 2>&1 \
    || die "prometheus/promtool not on PATH and no apt-get here; install Prometheus >= 2.x by hand"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        die "prometheus/promtool not on PATH; installing them needs root (run as root or with passwordless sudo)"
    fi
fi

# Keep maintainer scripts from starting services (invoke-rc.d honours policy-rc.d exit code 101).
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 755 "$POLICY"
    OWN_POLICY=1
fi
cleanup() { if [ "$OWN_POLICY" -eq 1 ]; then "${SUDO[@]}" rm -f "$POLICY"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
say "installing the Debian package 'prometheus' (apt-get update + install)"
"${SUDO[@]}" apt-get update -qq || die "apt-get update failed (network or sources.list?)"
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends prometheus \
    || die "apt-get install prometheus failed"

# Should the package's own daemon be up anyway (systemd ignores policy-rc.d), stop it for good.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    "${SUDO[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
elif [ -x /etc/init.d/prometheus ]; then
    "${SUDO[@]}" /etc/init.d/prometheus stop >/dev/null 2>&1 || true
fi

command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 \
    || die "the package installed but prometheus/promtool are still not on PATH"
say "installed: $(prometheus --version 2>&1 | head -n 1)"
