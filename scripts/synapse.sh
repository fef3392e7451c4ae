#!/usr/bin/env bash
# A throwaway Synapse homeserver for tests and benchmarks. Source this file, then:
#   synapse_start   installs Synapse into target/synapse/venv (once), generates a config for
#                   server name "localhost" on a free loopback port, starts it, waits until it
#                   answers, and exports FACILITATOR_TEST_SYNAPSE_URL and
#                   FACILITATOR_TEST_SYNAPSE_SECRET (the registration shared secret)
#   synapse_stop    stops it (callers run it from their EXIT trap)
# Message rate limits stay at Synapse's defaults; tests lift them per user through the admin
# API, except where a test is about rate limits. Every other limit is raised.

SYNAPSE_VERSION="${SYNAPSE_VERSION:-1.163.2}"
SYNAPSE_ROOT="$(pwd)/target/synapse"
SYNAPSE_PID=""

synapse_install() {
    local venv="$SYNAPSE_ROOT/venv"
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import synapse, sys; sys.exit(0 if synapse.__version__.split()[0] == '$SYNAPSE_VERSION' else 1)" 2>/dev/null; then
        return 0
    fi
    echo "synapse: installing matrix-synapse $SYNAPSE_VERSION into $venv (once)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION"
}

synapse_start() {
    synapse_install
    local venv="$SYNAPSE_ROOT/venv" run="$SYNAPSE_ROOT/run-$$"
    rm -rf "$run"
    mkdir -p "$run"
    local port secret
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    secret=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
    (cd "$run" && "$venv/bin/python" -m synapse.app.homeserver --server-name localhost \
        --config-path "$run/homeserver.yaml" --generate-config --report-stats=no \
        --data-directory "$run" >/dev/null)
    local high='{per_second: 10000, burst_count: 10000}'
    cat > "$run/overrides.yaml" <<YAML
listeners:
  - port: $port
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources: [{names: [client], compress: false}]
database: {name: sqlite3, args: {database: "$run/homeserver.db"}}
media_store_path: "$run/media"
registration_shared_secret: "$secret"
enable_registration: false
presence: {enabled: false}
trusted_key_servers: []
suppress_key_server_warning: true
bcrypt_rounds: 4
rc_registration: $high
rc_registration_token_validity: $high
rc_login: {address: $high, account: $high, failed_attempts: $high}
rc_joins: {local: $high, remote: $high}
rc_joins_per_room: $high
rc_invites: {per_room: $high, per_user: $high, per_issuer: $high}
rc_third_party_invite: $high
rc_admin_redaction: $high
rc_key_requests: $high
rc_3pid_validation: $high
rc_media_create: $high
rc_presence: {per_user: $high}
rc_delayed_event_mgmt: $high
rc_room_creation: $high
rc_reports: $high
rc_user_directory: $high
rc_profile: $high
YAML
    # The generated log config writes into the working directory; keep it in the run directory.
    sed -i "s|filename: .*|filename: $run/homeserver.log|" "$run/localhost.log.config"
    (cd "$run" && exec "$venv/bin/python" -m synapse.app.homeserver -c homeserver.yaml -c overrides.yaml \
        > "$run/stdout.log" 2>&1) &
    SYNAPSE_PID=$!
    local url="http://127.0.0.1:$port"
    for _ in $(seq 1 300); do
        if curl -fsS "$url/_matrix/client/versions" >/dev/null 2>&1; then
            export FACILITATOR_TEST_SYNAPSE_URL="$url" FACILITATOR_TEST_SYNAPSE_SECRET="$secret"
            echo "synapse: $SYNAPSE_VERSION answering at $url"
            return 0
        fi
        if ! kill -0 "$SYNAPSE_PID" 2>/dev/null; then
            echo "synapse: it did not start; its output:" >&2
            tail -n 40 "$run/stdout.log" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "synapse: no answer at $url after 60 s" >&2
    return 1
}

synapse_stop() {
    if [ -n "$SYNAPSE_PID" ] && kill -0 "$SYNAPSE_PID" 2>/dev/null; then
        kill -TERM "$SYNAPSE_PID" 2>/dev/null || true
        wait "$SYNAPSE_PID" 2>/dev/null || true
    fi
    SYNAPSE_PID=""
    rm -rf "$SYNAPSE_ROOT/run-$$"
}
