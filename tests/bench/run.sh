#!/usr/bin/env bash
# run.sh -- `make bench`: the benchmarks on a private redis-server and real
# processes. Figures go to stdout (and into docs/PERFORMANCE.md by hand).
#   BENCH_N_RT   round trips measured (default 2000)
#   BENCH_N_SUSP suspended executions (default 100000)
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh
BINDIR=${BINDIR:-build/bin}
e2e_setup
start_redis
start_gateway gw --log-level warn
TOKEN=$(mint --sub bench --ttl-s 3600)

echo "== callback round trip (handler -> push -> gateway -> WebSocket client -> answer -> resume)"
"$BINDIR/aa-bench" roundtrip --redis "$REDIS" --url "ws://127.0.0.1:$PORT/ws" --token "$TOKEN" \
    --n "${BENCH_N_RT:-2000}"

echo "== ${BENCH_N_SUSP:-100000} executions suspended at once, 2 worker processes x ${BENCH_THREADS:-4} threads"
rcli FLUSHALL >/dev/null
for _ in 1 2; do
    "$BINDIR/aa-bench" worker --redis "$REDIS" --threads "${BENCH_THREADS:-4}" \
        2>>"$E2E_DIR/bench-worker.log" &
    PIDS+=("$!")
done
"$BINDIR/aa-bench" suspend --redis "$REDIS" --n "${BENCH_N_SUSP:-100000}"
stop_programs >/dev/null 2>&1
