#!/usr/bin/env bash
# run.sh -- start agent-async on this machine: a private redis-server (unix
# socket and data under build/run/), the gateway, one agent worker and one
# tool worker.
#   run.sh up     start in the background; pids and logs in build/run/
#   run.sh down   stop what `up` started
#   run.sh run    up, then the desktop client on this terminal; Ctrl-C or
#                 /quit stops everything, in order (client, gateway,
#                 workers, Redis last)
# AA_PORT picks the gateway port (default 8080). AA_CLUSTER=1 (make up
# AA_CLUSTER=1) starts a private Redis Cluster instead of one Redis: 3
# masters and 3 replicas on loopback, AOF on, data under build/run/cluster/
# (ops/redis-cluster.sh); every program gets its cluster: address and the
# keys spread over 16 cells, as evenly over the masters as they divide
# (aa-ctl cells balance). The services run in a
# session of their own, so a Ctrl-C on the terminal reaches only the client;
# this script stops the rest. Files that hold secrets (secret, token, env,
# mcp-client) are 0600 and removed by down.
set -u
cd "$(dirname "$0")/.."
BINDIR=${BINDIR:-build/bin}
RUN=${AA_RUN_DIR:-$PWD/build/run}
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

start() { # NAME COMMAND...: in its own session, out of the terminal's reach
    local name=$1
    shift
    setsid "$@" >>"$RUN/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
}

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

up() {
    if alive gateway; then
        echo "run: already up ($(cat "$RUN/url")); 'make down' first" >&2
        return 1
    fi
    mkdir -p "$RUN/redis"
    chmod 700 "$RUN"
    umask 077
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
    local redis cli
    if [ "${AA_CLUSTER:-0}" = 1 ]; then
        redis=$(bash ops/redis-cluster.sh start "$RUN/cluster" 3 1) || return 1
        "$BINDIR/aa-ctl" cells balance --redis "$redis" >>"$RUN/cluster/balance.log" 2>&1
        local seed=${redis#cluster:}
        seed=${seed%%,*}
        cli="redis-cli -c -h ${seed%:*} -p ${seed##*:}"
    else
        start redis redis-server "$PWD/ops/redis.conf" --port 0 --unixsocket "$RUN/redis.sock" \
            --unixsocketperm 700 --dir "$RUN/redis" --daemonize no
        wait_for 10 redis redis-cli -s "$RUN/redis.sock" PING || return 1
        redis="unix:$RUN/redis.sock"
        cli="redis-cli -s $RUN/redis.sock"
    fi
    # one OAuth client for outside MCP agents (kept with the secret)
    if [ ! -s "$RUN/mcp-client" ]; then
        (umask 077 && printf 'mcp-%s %s\n' "$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')" \
            "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" >"$RUN/mcp-client")
    fi
    read -r MCP_ID MCP_SECRET <"$RUN/mcp-client"
    # the MCP client acts for the desktop's user, on the sessions that user owns
    local user=${USER:-user}
    AA_MCP_CLIENTS="$MCP_ID:$MCP_SECRET::$user" \
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
    "$BINDIR/aa-ctl" token --sub "$user" --scope client --ttl-s 2592000 >"$RUN/token"
    chmod 600 "$RUN/token"
    {
        echo "# . build/run/env -- the running stack's addresses and credentials (0600)"
        echo "export AA_URL=ws://127.0.0.1:$PORT/ws"
        echo "export AA_TOKEN_FILE=$RUN/token"
        echo "export AA_REDIS=$redis"
        echo "export AA_REDIS_CLI='$cli'"
        echo "export AA_HTTP=http://127.0.0.1:$PORT"
        echo "export AA_MCP_URL=http://127.0.0.1:$PORT/mcp"
        echo "export AA_MCP_CLIENT_ID=$MCP_ID"
        echo "export AA_MCP_CLIENT_SECRET=$MCP_SECRET"
    } >"$RUN/env"
    chmod 600 "$RUN/env"
    echo "agent-async is up: ws://127.0.0.1:$PORT/ws?session_id=<id>"
    echo "  health  http://127.0.0.1:$PORT/healthz   metrics http://127.0.0.1:$PORT/metrics"
    echo "  redis   $cli      logs $RUN/*.log"
    echo "  token   $RUN/token (client token for $user; the secret is $RUN/secret)"
    echo "  env     . $RUN/env   (exports AA_URL, AA_TOKEN_FILE, AA_REDIS, AA_HTTP, AA_MCP_*)"
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
    [ -d "$RUN/cluster" ] && bash ops/redis-cluster.sh stop "$RUN/cluster"
    rm -f "$RUN/url" "$RUN/port" "$RUN/token" "$RUN/env" "$RUN/secret" "$RUN/mcp-client" \
        "$RUN/redis.sock"
    echo "agent-async is down"
}

case "${1:-}" in
up) up ;;
down) down ;;
run)
    up || exit 1
    trap 'down' EXIT
    # Ctrl-C: the client (in the foreground) quits on it; this script waits
    # for it and then stops the rest in order.
    trap '' INT
    trap 'exit 143' TERM
    # the desktop app when there is a display (AA_TERMINAL=1: the terminal
    # client anyway), else the terminal client
    client=aa-client
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x "$BINDIR/aa-desktop" ] &&
        [ "${AA_TERMINAL:-0}" != 1 ]; then
        client=aa-desktop
    fi
    echo "run: starting $client (Ctrl-C or /quit stops everything)" >&2
    AA_TOKEN_SECRET= AA_TOKEN= "$BINDIR/$client" --url "$(cat "$RUN/url")" \
        --token-file "$RUN/token"
    ;;
*)
    echo "usage: ops/run.sh up|down|run" >&2
    exit 2
    ;;
esac
