# lib.sh -- helpers for the end-to-end tests: a private redis-server on a
# unix socket, the real gateway and workers as processes, a headless client,
# and polling with a deadline (never bare sleeps). Source it from bash.

BINDIR=${BINDIR:-build/bin}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FIXTURES=$ROOT/tests/e2e/fixtures
PASSED=0
FAILED=0
PIDS=()
CLUSTERS=0

# With AA_E2E_GATEWAY=host:port and AA_E2E_REDIS=host:port the scenarios run
# against a stack that is already up (the compose e2e service); otherwise
# they start their own processes.
EXTERNAL=${AA_E2E_GATEWAY:+1}
GW_HOST=127.0.0.1
# AA_E2E_REDIS=cluster:host:port,...: the stack's Redis is a cluster.
case "${AA_E2E_REDIS:-}" in
cluster:*)
    export AA_E2E_CLUSTER=1
    REDIS_SEED=${AA_E2E_REDIS#cluster:}
    REDIS_SEED=${REDIS_SEED%%,*}
    ;;
esac

e2e_setup() {
    local base=$ROOT/build/test
    mkdir -p "$base" 2>/dev/null && [ -w "$base" ] || base=${TMPDIR:-/tmp}
    E2E_DIR=$base/e2e-$$
    rm -rf "$E2E_DIR"
    mkdir -p "$E2E_DIR"
    trap e2e_teardown EXIT
}

e2e_teardown() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    PIDS=()
    local d
    for d in "$E2E_DIR"/cluster-*; do [ -d "$d" ] && bash "$ROOT/ops/redis-cluster.sh" stop "$d"; done
    if [ "$FAILED" = 0 ] && [ -z "${E2E_KEEP:-}" ]; then rm -rf "$E2E_DIR"; fi
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 20 ms.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local end=$((SECONDS + secs))
    while ! "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $end ]; then
            echo "# timed out after ${secs}s waiting for $what" >&2
            return 1
        fi
        sleep 0.02
    done
}

# AA_E2E_CELLS=N runs the scenarios with N cells (keys.h) on one Redis;
# AA_E2E_CLUSTER=1 on a private Redis Cluster (3 masters, 3 replicas, AOF:
# ops/redis-cluster.sh) with its default 16 cells.
[ -n "${AA_E2E_CELLS:-}" ] && export AA_CELLS=$AA_E2E_CELLS

start_redis() {
    if [ -n "${AA_E2E_CLUSTER:-}" ]; then
        CLUSTER_DIR=$E2E_DIR/cluster-$((++CLUSTERS))
        REDIS=$(bash "$ROOT/ops/redis-cluster.sh" start "$CLUSTER_DIR" 3 1) || return 1
        REDIS_SEED=${REDIS#cluster:}
        REDIS_SEED=${REDIS_SEED%%,*}
        return 0
    fi
    REDIS_SOCK=$E2E_DIR/redis.sock
    redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 --dir "$E2E_DIR" \
        --appendonly yes --appendfsync everysec --save "" --notify-keyspace-events KEA \
        --hz 100 --hash-max-listpack-value 512 --logfile "$E2E_DIR/redis.log" &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    REDIS="unix:$REDIS_SOCK"
    wait_for 10 "redis-server" rcli PING
}

# restart_redis: Redis stopped (SHUTDOWN: AOF written) and started again on
# the same data; on a cluster every node, on its port, with its nodes.conf.
restart_redis() {
    if [ -n "${AA_E2E_CLUSTER:-}" ]; then
        bash "$ROOT/ops/redis-cluster.sh" stop "$CLUSTER_DIR" &&
            bash "$ROOT/ops/redis-cluster.sh" start "$CLUSTER_DIR" >/dev/null
        return
    fi
    rcli SHUTDOWN >/dev/null 2>&1
    wait "$REDIS_PID" 2>/dev/null
    forget "$REDIS_PID"
    start_redis
}

rcli() {
    if [ -n "${AA_E2E_CLUSTER:-}" ]; then
        redis-cli -c -h "${REDIS_SEED%:*}" -p "${REDIS_SEED##*:}" "$@"
    elif [ -n "$EXTERNAL" ]; then
        redis-cli -h "${AA_E2E_REDIS%:*}" -p "${AA_E2E_REDIS##*:}" "$@"
    else
        redis-cli -s "$REDIS_SOCK" "$@"
    fi
}

# The product's Redis names, whatever the deployment's cells (aa-ctl key):
# key exec ID, key session SID WHAT, key in ID aa:stream:tool, ...
key() { "$BINDIR/aa-ctl" key "$@" --redis "${REDIS:-${AA_E2E_REDIS:-}}"; }
# sum_cells CMD NAME: CMD (ZCARD, XLEN) of NAME added up over every cell.
sum_cells() {
    local n=0 k v
    for k in $(key cells "$2"); do
        v=$(rcli "$1" "$k") || return 1
        n=$((n + v))
    done
    echo "$n"
}
# scan_keys PATTERN: the keys matching PATTERN (aa:exec:turn-*) in every
# cell, on every master.
scan_keys() {
    local pat m
    pat=$(key any "$1") || return 1
    if [ -n "${AA_E2E_CLUSTER:-}" ]; then
        for m in $(key masters); do redis-cli -h "${m%:*}" -p "${m##*:}" --scan --pattern "$pat"; done
    else
        rcli --scan --pattern "$pat"
    fi
}

# same_cell_id SID PREFIX: the first of PREFIX1, PREFIX2 ... in SID's cell,
# for a record a test makes by hand, as the runtime would (ids in cells).
same_cell_id() {
    local want n=0 k
    want=$(key session "$1" owner) || return 1
    want=${want%%session:*}
    while [ $n -lt 10000 ]; do
        n=$((n + 1))
        k=$(key cb "$2$n") || return 1
        [ "${k%%cb:*}" = "$want" ] && { echo "$2$n"; return 0; }
    done
    return 1
}

# A token secret for the gateway and a client token for the scenarios.
export AA_TOKEN_SECRET=${AA_TOKEN_SECRET:-e2e-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
mint() { "$BINDIR/aa-ctl" token "$@"; }

start_gateway() {
    local name=${1:-gw}
    shift || true
    rm -f "$E2E_DIR/$name.port"
    "$BINDIR/aa-gateway" --port 0 --port-file "$E2E_DIR/$name.port" --redis "$REDIS" \
        --node "$name" "$@" 2>>"$E2E_DIR/$name.log" &
    PIDS+=("$!")
    eval "${name^^}_PID=$!"
    wait_for 10 "gateway port" test -s "$E2E_DIR/$name.port"
    PORT=$(cat "$E2E_DIR/$name.port")
    wait_for 10 "gateway health" http_get "$PORT" /healthz 200
}

# forget PID: a process the test ended itself.
forget() {
    local keep=() pid
    for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
    PIDS=("${keep[@]}")
}

# stop_programs: SIGTERM every program but redis; each must exit 0 in time,
# and no sanitizer may have reported anything in the logs.
stop_programs() {
    local pid rc bad=0 keep=()
    [ -n "$EXTERNAL" ] && return 0
    for pid in "${PIDS[@]}"; do
        [ "$pid" = "${REDIS_PID:-}" ] && { keep+=("$pid"); continue; }
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        [ "$pid" = "${REDIS_PID:-}" ] && continue
        wait "$pid"
        rc=$?
        if [ "$rc" != 0 ]; then
            echo "# process $pid exited with $rc after SIGTERM" >&2
            bad=1
        fi
    done
    PIDS=("${keep[@]}")
    if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$E2E_DIR"/*.log 2>/dev/null; then
        echo "# sanitizer reports above" >&2
        bad=1
    fi
    return $bad
}

start_agent() {
    "$BINDIR/aa-agent-worker" --redis "$REDIS" "$@" 2>>"$E2E_DIR/agent.log" &
    AGENT_PID=$!
    PIDS+=("$!")
}

start_tool() {
    "$BINDIR/aa-tool-worker" --redis "$REDIS" --sweep-ms 200 "$@" 2>>"$E2E_DIR/tool.log" &
    TOOL_PID=$!
    PIDS+=("$!")
}

start_stack() {
    if [ -n "$EXTERNAL" ]; then
        GW_HOST=${AA_E2E_GATEWAY%:*}
        PORT=${AA_E2E_GATEWAY##*:}
        wait_for 60 "redis" rcli PING
        wait_for 60 "gateway health" http_get "$PORT" /healthz 200
        wait_for 60 "worker groups" groups_ready
        return
    fi
    start_redis
    start_gateway gw
    start_agent
    start_tool
    wait_for 10 "worker groups" groups_ready
}

groups_ready() {
    rcli XINFO GROUPS "$(key cells aa:stream:tool | tail -1)" | grep -q tool-workers &&
        rcli XINFO GROUPS "$(key cells aa:stream:agent | tail -1)" | grep -q agent-workers
}

# http_get PORT PATH [STATUS]: GET with bash's /dev/tcp; prints the body.
http_get() {
    local port=$1 path=$2 want=${3:-}
    exec 3<>"/dev/tcp/$GW_HOST/$port" || return 1
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
    local resp
    resp=$(cat <&3)
    exec 3<&-
    if [ -n "$want" ]; then
        case "$resp" in "HTTP/1.1 $want "*) ;; *) return 1 ;; esac
    fi
    printf '%s\n' "${resp#*$'\r\n\r\n'}"
}

# http_req PORT METHOD PATH BODY [HEADER...]: prints "STATUS\nBODY".
http_req() {
    local port=$1 method=$2 path=$3 body=$4 h
    shift 4
    exec 3<>"/dev/tcp/$GW_HOST/$port" || return 1
    {
        printf '%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n' \
            "$method" "$path" "${#body}"
        for h in "$@"; do printf '%s\r\n' "$h"; done
        printf '\r\n%s' "$body"
    } >&3
    local resp
    resp=$(cat <&3)
    exec 3<&-
    local status=${resp#HTTP/1.1 }
    printf '%s\n%s\n' "${status%% *}" "${resp#*$'\r\n\r\n'}"
}

# ws_upgrade PORT QUERY [HEADER...]: the status of a WebSocket handshake.
ws_upgrade() {
    local port=$1 query=$2 h
    shift 2
    exec 3<>"/dev/tcp/$GW_HOST/$port" || return 1
    {
        printf 'GET /ws?%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' "$query"
        printf 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
        for h in "$@"; do printf '%s\r\n' "$h"; done
        printf '\r\n'
    } >&3
    local line
    IFS= read -r -t 5 line <&3
    exec 3<&-
    line=${line#HTTP/1.1 }
    echo "${line%% *}"
}

# client ARGS...: the headless desktop client with its actions pointed at
# test scripts (never at a real VPN).
client() {
    [ -n "${CLIENT_TOKEN:-}" ] || CLIENT_TOKEN=$(mint --sub e2e --scope client --ttl-s 3600)
    timeout 60 "$BINDIR/aa-client" --approve-changes allow --url "ws://$GW_HOST:$PORT/ws" --json --quiet --token "$CLIENT_TOKEN" \
        --cmd-connect-vpn "$FIXTURES/action.sh connect_vpn $E2E_DIR/actions.log" \
        --cmd-disconnect-vpn "$FIXTURES/action.sh disconnect_vpn $E2E_DIR/actions.log" \
        --cmd-vpn-status "$FIXTURES/vpn_status.sh" \
        --cmd-logs-vpn "$FIXTURES/logs_vpn.sh" \
        --cmd-logs-network "$FIXTURES/action.sh network_logs $E2E_DIR/actions.log" \
        --cmd-logs-system "$FIXTURES/action.sh system_logs $E2E_DIR/actions.log" \
        "$@"
}

ok() {
    PASSED=$((PASSED + 1))
    echo "ok - $1"
}

not_ok() {
    FAILED=$((FAILED + 1))
    echo "not ok - $1"
    [ -n "${2:-}" ] && printf '#   %s\n' "$2"
    return 0
}

# check NAME COMMAND...: one assertion.
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# json_has FILE JQ-LIKE-SUBSTRING: a line of FILE contains the text.
has() { grep -qF -- "$2" "$1"; }
# count FILE PATTERN: how many lines of FILE match.
count() { grep -c -- "$2" "$1" || true; }
