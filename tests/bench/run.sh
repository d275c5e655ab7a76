#!/usr/bin/env bash
# run.sh -- `make bench`: the benchmarks on a private redis-server and real
# processes. Figures go to stdout (and into docs/PERFORMANCE.md by hand).
#   BENCH_N_RT   round trips measured (default 2000)
#   BENCH_N_SUSP suspended executions (default 100000)
#   BENCH_N_DISPATCH, BENCH_DISPATCH_ROUNDS  no-op jobs per side and
#                alternated rounds of the BullMQ comparison (20000, 5)
#   BENCH_SKIP_BULLMQ, BENCH_SKIP_RESTATE, BENCH_SKIP_CLUSTER  leave those
#                comparisons out (the cluster one: tests/bench/cluster.sh)
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh
BINDIR=${BINDIR:-build/bin}
e2e_setup
start_redis
start_gateway gw --log-level warn --rate-per-s 100000 --rate-burst 100000 \
    --mcp-clients "bench-agent:bench-secret-value::bench"
TOKEN=$(mint --sub bench --ttl-s 3600)

echo "== callback round trip (handler -> push -> gateway -> WebSocket client -> answer -> resume)"
"$BINDIR/aa-bench" roundtrip --redis "$REDIS" --url "ws://127.0.0.1:$PORT/ws" --token "$TOKEN" \
    --n "${BENCH_N_RT:-2000}"

echo "== agent overhead per turn, end to end through the gateway and both workers"
start_agent --log-level warn --memory-turns 0
start_tool --log-level warn
wait_for 10 "worker groups" groups_ready
"$BINDIR/aa-wsload" turns --label agent-async --port "$PORT" --token "$TOKEN" --n "${BENCH_N_TURNS:-2000}"
echo "== ${BENCH_N_WAIT:-1000} sessions each with a turn waiting on a slow desktop"
"$BINDIR/aa-wsload" waiting --label agent-async --port "$PORT" --token "$TOKEN" \
    --n "${BENCH_N_WAIT:-1000}" --redis "$REDIS"
if [ -d tests/node_modules/@modelcontextprotocol/sdk ]; then
    echo "== MCP tools/call round trip, side by side with the TypeScript SDK server's echo"
    "$BINDIR/aa-bench" desk --url "ws://127.0.0.1:$PORT/ws" --token "$TOKEN" --session mcp-bench \
        2>>"$E2E_DIR/desk.log" &
    dpid=$!
    PIDS+=("$dpid")
    desk_up() { test "$(rcli SCARD aa:session:mcp-bench:conns)" = 1; }
    wait_for 10 "the benchmark desktop" desk_up
    node tests/bench/mcp/bench.mjs "http://127.0.0.1:$PORT" bench-agent bench-secret-value mcp-bench \
        "${BENCH_N_MCP:-2000}"
    kill "$dpid"
    wait "$dpid" 2>/dev/null
    forget "$dpid"
fi
kill "$AGENT_PID" "$TOOL_PID"
wait "$AGENT_PID" "$TOOL_PID"
forget "$AGENT_PID"
forget "$TOOL_PID"
rcli FLUSHALL >/dev/null

echo "== gateway: idle connections and push delivery, side by side with a Node ws server"
ulimit -n 65536 2>/dev/null || true
if [ ! -d tests/node_modules/redis ]; then
    (cd tests && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1)
fi
NIDLE=${BENCH_N_IDLE:-10000}
NPUSH=${BENCH_N_PUSH:-1000}
NMSG=${BENCH_N_MSGS:-200000}
"$BINDIR/aa-wsload" idle --label agent-async --port "$PORT" --token "$TOKEN" --n "$NIDLE" \
    --server-pid "$GW_PID"
echo "== gateway memory: ${BENCH_N_BIG:-2000} connections that each sent a 64 KiB message in one frame"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
$PY tests/bench/ws_bigmsg_rss.py 127.0.0.1 "$PORT" "$TOKEN" "$GW_PID" "${BENCH_N_BIG:-2000}" 65536
for rate in 0 20000; do
    "$BINDIR/aa-wsload" push --label agent-async --port "$PORT" --token "$TOKEN" --n "$NPUSH" \
        --msgs "$NMSG" --rate "$rate" --redis "$REDIS" --channel aa:push:gw --server-pid "$GW_PID"
done
if [ -d tests/node_modules/ws ] && [ -d tests/node_modules/redis ]; then
    node tests/bench/node/server.mjs 28090 "$REDIS_SOCK" aa:push:node >"$E2E_DIR/node.log" 2>&1 &
    npid=$!
    PIDS+=("$npid")
    wait_for 10 "the node server" grep -q listening "$E2E_DIR/node.log"
    "$BINDIR/aa-wsload" idle --label "node ws" --port 28090 --token x --n "$NIDLE" --server-pid "$npid"
    for rate in 0 20000; do
        "$BINDIR/aa-wsload" push --label "node ws" --port 28090 --token x --n "$NPUSH" \
            --msgs "$NMSG" --rate "$rate" --redis "$REDIS" --channel aa:push:node --server-pid "$npid"
    done
    kill "$npid"
    wait "$npid" 2>/dev/null
    forget "$npid"
fi

echo "== ${BENCH_N_SUSP:-100000} executions suspended at once, 2 worker processes x ${BENCH_THREADS:-4} threads"
rcli FLUSHALL >/dev/null
WPIDS=()
for _ in 1 2; do
    "$BINDIR/aa-bench" worker --redis "$REDIS" --threads "${BENCH_THREADS:-4}" \
        2>>"$E2E_DIR/bench-worker.log" &
    PIDS+=("$!")
    WPIDS+=("$!")
done
"$BINDIR/aa-bench" suspend --redis "$REDIS" --n "${BENCH_N_SUSP:-100000}"
kill "${WPIDS[@]}" 2>/dev/null
wait "${WPIDS[@]}" 2>/dev/null
for p in "${WPIDS[@]}"; do forget "$p"; done

# Side by side in the same run: job dispatch through our queue (exec_start.lua
# and the consumer loop with a no-op handler) and through BullMQ (npm bullmq:
# addBulk, one Worker at concurrency 50), on the same Redis, alternated.
if command -v npm >/dev/null 2>&1 && [ -z "${BENCH_SKIP_BULLMQ:-}" ]; then
    NDISP=${BENCH_N_DISPATCH:-20000}
    echo "== job dispatch, $NDISP no-op jobs, side by side with BullMQ (${BENCH_DISPATCH_ROUNDS:-5} alternated rounds)"
    if [ ! -d tests/bench/bullmq/node_modules/bullmq ]; then
        (cd tests/bench/bullmq && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1) ||
            echo "bullmq: npm ci failed; skipped"
    fi
    if [ -d tests/bench/bullmq/node_modules/bullmq ]; then
        # its own redis-server with the project's ops/redis.conf, for both
        mkdir -p "$E2E_DIR/dispatch"
        DSOCK=$E2E_DIR/dispatch/redis.sock
        redis-server ops/redis.conf --port 0 --unixsocket "$DSOCK" --unixsocketperm 700 \
            --dir "$E2E_DIR/dispatch" --logfile "$E2E_DIR/dispatch/redis.log" &
        DPID=$!
        PIDS+=("$DPID")
        wait_for 10 "the dispatch redis-server" redis-cli -s "$DSOCK" PING
        out=$E2E_DIR/dispatch.txt
        for _ in $(seq "${BENCH_DISPATCH_ROUNDS:-5}"); do
            redis-cli -s "$DSOCK" FLUSHALL >/dev/null
            "$BINDIR/aa-bench" dispatch --redis "unix:$DSOCK" --n "$NDISP" \
                --threads "${BENCH_THREADS:-4}" | tee -a "$out"
            redis-cli -s "$DSOCK" FLUSHALL >/dev/null
            node tests/bench/bullmq/bench.mjs "$DSOCK" "$NDISP" | tee -a "$out"
        done
        kill "$DPID"
        wait "$DPID" 2>/dev/null
        forget "$DPID"
        # medians of each side, and the ratios (ours / BullMQ)
        $PY - "$out" <<'PYEOF2'
import re, statistics, sys
rows = {"agent-async": [], "bullmq": []}
for line in open(sys.argv[1]):
    m = re.match(r"dispatch (\S+) n=\d+ add=(\d+) jobs/s process=(\d+) jobs/s commands/job add=([\d.]+) "
                 r"process=([\d.]+) redis_cpu_us/job add=([\d.]+) process=([\d.]+)", line)
    if m:
        rows[m.group(1)].append([float(x) for x in m.groups()[1:]])
if rows["agent-async"] and rows["bullmq"]:
    names = ["add, jobs/s", "process, jobs/s", "commands per job, add", "commands per job, process",
             "Redis CPU us per job, add", "Redis CPU us per job, process"]
    print("dispatch medians (%d rounds): figure, agent-async, BullMQ, ratio" % len(rows["bullmq"]))
    for i, name in enumerate(names):
        ours = statistics.median(r[i] for r in rows["agent-async"])
        theirs = statistics.median(r[i] for r in rows["bullmq"])
        print("  %-30s %10.1f %10.1f %6.2fx" % (name, ours, theirs, ours / theirs if theirs else 0))
    med = lambda side, i: statistics.median(r[i] for r in rows[side])
    rate = med("agent-async", 1) / med("bullmq", 1)
    cpu = med("agent-async", 5) / med("bullmq", 5)
    print("dispatch targets (#20): process %.2fx BullMQ's (>= 2x: %s), Redis CPU per processed job "
          "%.2fx (<= 0.5x: %s)" % (rate, "met" if rate >= 2 else "NOT met", cpu,
                                   "met" if cpu <= 0.5 else "NOT met"))
PYEOF2
    fi
fi

# Side by side in the same run: Restate (npm @restatedev/restate-server and
# its TypeScript SDK) doing the same round trip with an awakeable.
if command -v npm >/dev/null 2>&1 && [ -z "${BENCH_SKIP_RESTATE:-}" ]; then
    echo "== Restate awakeable round trip (same machine, same run)"
fi
if command -v npm >/dev/null 2>&1 && [ -z "${BENCH_SKIP_RESTATE:-}" ] &&
    ! (cd tests/bench/restate && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1); then
    echo "restate: npm ci failed; skipped"
elif command -v npm >/dev/null 2>&1 && [ -z "${BENCH_SKIP_RESTATE:-}" ]; then
    rdir=$E2E_DIR/restate
    mkdir -p "$rdir"
    RESTATE_BASE_DIR=$rdir RESTATE_INGRESS__BIND_ADDRESS=127.0.0.1:28080 \
        RESTATE_ADMIN__BIND_ADDRESS=127.0.0.1:29070 RESTATE_BIND_ADDRESS=127.0.0.1:25122 \
        RESTATE_ADVERTISED_ADDRESS=http://127.0.0.1:25122 \
        tests/bench/restate/node_modules/.bin/restate-server >"$rdir/server.log" 2>&1 &
    rpid=$!
    PIDS+=("$rpid")
    wait_for 30 "restate-server" bash -c 'exec 3<>/dev/tcp/127.0.0.1/29070'
    (cd tests/bench/restate && RESTATE_LOGGING=ERROR RESTATE_INGRESS_PORT=28080 \
        RESTATE_ADMIN_PORT=29070 BENCH_SERVICE_PORT=29080 \
        node bench.mjs "${BENCH_N_RT:-2000}" 100)
    kill "$rpid" 2>/dev/null
    wait "$rpid" 2>/dev/null
    forget "$rpid"
fi
stop_programs >/dev/null 2>&1

if [ -z "${BENCH_SKIP_CLUSTER:-}" ]; then
    echo "== on a Redis Cluster beside one Redis: callback round trip and resumes/s per master"
    bash tests/bench/cluster.sh
fi
exit 0
