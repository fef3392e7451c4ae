#!/usr/bin/env bash
# The whole test suite. Sets up what the tests need, idempotently:
#   - PostgreSQL: the server at $FACILITATOR_TEST_POSTGRES_URL (default
#     postgres://postgres@127.0.0.1:5432/test) if it answers; otherwise a throwaway cluster
#     started from this machine's PostgreSQL binaries under target/pg; otherwise it stops and
#     says how to install them.
#   - Synapse: installed from PyPI into a venv under target/ (once), started on a free loopback
#     port with a generated config (scripts/synapse.sh), stopped at the end.
#   - 1EdTech's Open Badges validator and jwcrypto: installed from PyPI into a venv under
#     target/ (once) (scripts/openbadges.sh).
#   - A headless Chromium for the browser tests: Debian's `chromium`, installed with apt-get
#     when missing (scripts/chromium.sh).
# Then checks the code with clippy (every warning is an error) and runs every test of the
# workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${FACILITATOR_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

pg_answers() {
    command -v psql >/dev/null 2>&1 && psql "$1" -Atqc 'SELECT 1' >/dev/null 2>&1
}

started_cluster=""
cleanup() {
    if [ -n "$started_cluster" ]; then
        echo "test.sh: stopping the throwaway PostgreSQL cluster"
        as_pg "$PG_BIN/pg_ctl" -D "$started_cluster" -m fast stop >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

as_pg() {
    # initdb and postgres refuse to run as root.
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if pg_answers "$PG_URL"; then
    echo "test.sh: using PostgreSQL at ${PG_URL%%\?*}"
else
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
        echo "test.sh: PostgreSQL does not answer at $PG_URL and no PostgreSQL binaries were found." >&2
        echo "  Install them (Debian/Ubuntu: sudo apt-get install postgresql), or point" >&2
        echo "  FACILITATOR_TEST_POSTGRES_URL at a server where the user may create databases." >&2
        exit 1
    fi
    data="$PWD/target/pg/data"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$PWD/target/pg"
    if [ "$(id -u)" = 0 ]; then chown -R postgres "$PWD/target/pg"; fi
    if [ ! -f "$data/PG_VERSION" ]; then
        as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust >/dev/null
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$data" -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" -l "$PWD/target/pg/log" -w start >/dev/null
    started_cluster="$data"
    PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "test.sh: started a throwaway PostgreSQL cluster on port $port"
fi
export FACILITATOR_TEST_POSTGRES_URL="$PG_URL"

# Synapse for the Matrix tests: installed into target/synapse/venv once, started fresh.
source scripts/synapse.sh
trap 'synapse_stop; cleanup' EXIT
synapse_start
source scripts/openbadges.sh
openbadges_setup
source scripts/chromium.sh
chromium_setup

cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --lib --bins --tests --locked "$@"
