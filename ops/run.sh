#!/usr/bin/env bash
# run.sh -- start agent-async on this machine: a private redis-server (unix
# socket and data under build/run/), the gateway, one agent worker and one
# tool worker.
#   run.sh up     start in the background; pids and logs in build/run/
#   run.sh down   stop what `up` started
#   run.sh run    up, then the desktop client on this terminal; Ctrl-C or
#                 /quit stops everything
# AA_PORT picks the gateway port (default 8080).
set -u
cd "$(dirname "$0")/.."
BINDIR=${BINDIR:-build/bin}
RUN=$PWD/build/run
PORT=${AA_PORT:-8080}

wait_for() { # SECONDS WHAT COMMAND...
    local end=$((SECONDS + $1)) what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $end ]; then
            echo "run: timed out waiting for $what (see $RUN/*.log)" >&2
            return 1
        fi
        sleep 0.05
    done
}

start() { # NAME COMMAND...
    local name=$1
    shift
    "$@" >>"$RUN/$name.log" 2>&1 &
    echo $! >"$RUN/$name.pid"
}

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

up() {
    if alive gateway; then
        echo "run: already up ($(cat "$RUN/url")); 'make down' first" >&2
        return 1
    fi
    mkdir -p "$RUN/redis"
    rm -f "$RUN"/*.pid "$RUN/port"
    # A token secret for this installation (kept), and a client token.
    if [ -n "${AA_TOKEN_SECRET:-}" ]; then
        printf '%s\n' "$AA_TOKEN_SECRET" >"$RUN/secret"
    elif [ ! -s "$RUN/secret" ]; then
        (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$RUN/secret")
    fi
    chmod 600 "$RUN/secret"
    export AA_TOKEN_SECRET
    AA_TOKEN_SECRET=$(cat "$RUN/secret")
    start redis redis-server "$PWD/ops/redis.conf" --port 0 --unixsocket "$RUN/redis.sock" \
        --unixsocketperm 700 --dir "$RUN/redis" --daemonize no
    wait_for 10 redis redis-cli -s "$RUN/redis.sock" PING || return 1
    local redis="unix:$RUN/redis.sock"
    # one OAuth client for outside MCP agents (kept with the secret)
    if [ ! -s "$RUN/mcp-client" ]; then
        (umask 077 && printf 'mcp-%s %s\n' "$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')" \
            "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" >"$RUN/mcp-client")
    fi
    read -r MCP_ID MCP_SECRET <"$RUN/mcp-client"
    AA_MCP_CLIENTS="$MCP_ID:$MCP_SECRET" \
        start gateway "$BINDIR/aa-gateway" --redis "$redis" --port "$PORT" --port-file "$RUN/port"
    start agent-worker "$BINDIR/aa-agent-worker" --redis "$redis"
    start tool-worker "$BINDIR/aa-tool-worker" --redis "$redis"
    if ! wait_for 10 "the gateway" test -s "$RUN/port"; then
        tail -3 "$RUN/gateway.log" >&2
        down
        return 1
    fi
    PORT=$(cat "$RUN/port")
    echo "ws://127.0.0.1:$PORT/ws" >"$RUN/url"
    "$BINDIR/aa-ctl" token --sub "${USER:-user}" --scope client --ttl-s 2592000 >"$RUN/token"
    chmod 600 "$RUN/token"
    {
        echo "AA_URL=ws://127.0.0.1:$PORT/ws"
        echo "AA_TOKEN=$(cat "$RUN/token")"
        echo "AA_REDIS=$redis"
        echo "AA_HTTP=http://127.0.0.1:$PORT"
        echo "AA_MCP_URL=http://127.0.0.1:$PORT/mcp"
        echo "AA_MCP_CLIENT_ID=$MCP_ID"
        echo "AA_MCP_CLIENT_SECRET=$MCP_SECRET"
    } >"$RUN/env"
    echo "agent-async is up: ws://127.0.0.1:$PORT/ws?session_id=<id>"
    echo "  health  http://127.0.0.1:$PORT/healthz   metrics http://127.0.0.1:$PORT/metrics"
    echo "  redis   redis-cli -s $RUN/redis.sock      logs $RUN/*.log"
    echo "  token   $RUN/token (client token; the secret is $RUN/secret)"
    echo "  mcp     http://127.0.0.1:$PORT/mcp (OAuth client id and secret in $RUN/mcp-client)"
}

down() {
    local name pid
    for name in gateway agent-worker tool-worker redis; do
        [ -f "$RUN/$name.pid" ] || continue
        pid=$(cat "$RUN/$name.pid")
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null
        rm -f "$RUN/$name.pid"
    done
    rm -f "$RUN/url" "$RUN/port" "$RUN/token"
    echo "agent-async is down"
}

case "${1:-}" in
up) up ;;
down) down ;;
run)
    up || exit 1
    trap 'down' EXIT
    trap 'exit 130' INT TERM
    AA_TOKEN_SECRET= "$BINDIR/aa-client" --url "$(cat "$RUN/url")" --token "$(cat "$RUN/token")"
    ;;
*)
    echo "usage: ops/run.sh up|down|run" >&2
    exit 2
    ;;
esac
