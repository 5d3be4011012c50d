#!/usr/bin/env bash
# Make sure a PostgreSQL answers on 127.0.0.1:5432 with database `test` for user `root` (trust auth):
# what the PostgreSQL tests use (tests/pg.py). Idempotent, and quick when it is already so.
#
# - missing server (no pg_ctlcluster or no cluster): `apt-get install -y postgresql` (as root);
# - not running: `service postgresql start` (else pg_ctlcluster ... start), then waits for it;
# - a fresh Debian install (password auth on 127.0.0.1, no `root` role, no `test` database): trusts
#   127.0.0.1 and ::1 for the local test server, creates the role and the database.
# Exits non-zero with a message that says why when it cannot.
set -euo pipefail

say() { printf 'ensure-postgres: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
answers() { psql -h 127.0.0.1 -p 5432 -U root -d test -Atqc 'SELECT 1' >/dev/null 2>&1; }
as_postgres() { su postgres -s /bin/sh -c "$*"; }

if command -v psql >/dev/null 2>&1 && answers; then
    exit 0
fi
[ "$(id -u)" -eq 0 ] || die "PostgreSQL does not answer on 127.0.0.1:5432 and setting it up needs root"

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    command -v apt-get >/dev/null 2>&1 || die "no PostgreSQL and no apt-get here; install PostgreSQL >= 15 by hand"
    say "installing the Debian package 'postgresql' (apt-get update + install)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed (network or sources.list?)"
    apt-get install -y -qq postgresql || die "apt-get install postgresql failed"
fi

version="$(ls /etc/postgresql | sort -V | tail -n 1)"
start() {
    service postgresql start >/dev/null 2>&1 \
        || pg_ctlcluster --skip-systemctl-redirect "$version" main start \
        || die "could not start PostgreSQL $version (see /var/log/postgresql/)"
}
ready() { for _ in $(seq 60); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 0.5; done; return 1; }
pg_isready -q -h 127.0.0.1 -p 5432 || start
ready || die "PostgreSQL $version started but does not accept connections on 127.0.0.1:5432"

if ! answers; then
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
        say "trusting 127.0.0.1 and ::1 in $hba (a local test server)"
        sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
        as_postgres "psql -Atqc 'SELECT pg_reload_conf()'" >/dev/null
    fi
    as_postgres "psql -Atqc \"SELECT 1 FROM pg_roles WHERE rolname='root'\"" | grep -q 1 \
        || as_postgres "createuser --superuser root"
    as_postgres "psql -Atqc \"SELECT 1 FROM pg_database WHERE datname='test'\"" | grep -q 1 \
        || as_postgres "createdb --owner root test"
fi
answers || die "PostgreSQL runs but root cannot use database test on 127.0.0.1:5432"
say "PostgreSQL $version ready on 127.0.0.1:5432"
