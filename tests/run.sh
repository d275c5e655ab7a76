#!/usr/bin/env bash
# run.sh -- what `make test` runs: the Check unit suites (with a private
# redis-server for the durable-runtime suite), then the end-to-end scenario
# scripts. Ends with one line "N passed, N failed".
#   AA_E2E_CLUSTER=1 tests/run.sh --e2e   the scenarios only, on a private
#                                          Redis Cluster (make test-cluster)
set -u
cd "$(dirname "$0")/.."
BINDIR=${BINDIR:-build/bin}
export BINDIR
dir=$PWD/build/test/unit-$$
mkdir -p "$dir"
redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 --dir "$dir" \
    --save "" --appendonly no --logfile "$dir/redis.log" &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; wait $redis_pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 500); do
    redis-cli -s "$dir/redis.sock" PING >/dev/null 2>&1 && break
    sleep 0.02
done

# Test peers from npm (ws), installed from tests/package-lock.json.
if { [ ! -d tests/node_modules/ws ] || [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ]; } &&
    command -v npm >/dev/null 2>&1; then
    (cd tests && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1) ||
        echo "warning: npm ci in tests/ failed; the npm ws conformance check will fail"
fi

unit_rc=0 checks=0 fails=0 summary="unit tests: not run (--e2e)"
if [ "${1:-}" != --e2e ]; then
    echo "== unit tests (Check)"
    AA_TEST_REDIS="unix:$dir/redis.sock" "$BINDIR/check_all" | tee "$dir/unit.out"
    unit_rc=${PIPESTATUS[0]}
    summary=$(grep -E '^[0-9]+%: Checks: ' "$dir/unit.out" | tail -1)
    checks=$(echo "$summary" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
    fails=$(echo "$summary" | sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2/' | awk '{print $1 + $2}')
    [ -n "$checks" ] || { checks=0; fails=1; }
fi

e2e_pass=0
e2e_fail=0
e2e_rc=0
for script in tests/e2e/run.sh tests/e2e/authz.sh tests/e2e/durable.sh tests/e2e/client.sh tests/e2e/desktop.sh tests/e2e/conformance.sh tests/e2e/scale.sh tests/e2e/providers.sh tests/e2e/mcp.sh tests/e2e/catalog.sh tests/e2e/corpora.sh tests/e2e/ops.sh tests/e2e/failover.sh tests/e2e/layout.sh; do
    echo "== end-to-end: $script"
    bash "$script" | tee "$dir/e2e.out"
    [ "${PIPESTATUS[0]}" = 0 ] || e2e_rc=1
    line=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' "$dir/e2e.out" | tail -1)
    if [ -n "$line" ]; then
        e2e_pass=$((e2e_pass + $(echo "$line" | sed -E 's/e2e: ([0-9]+) passed.*/\1/')))
        e2e_fail=$((e2e_fail + $(echo "$line" | sed -E 's/.* ([0-9]+) failed/\1/')))
    else
        e2e_fail=$((e2e_fail + 1))
    fi
done

echo "$summary"
passed=$((checks - fails + e2e_pass))
failed=$((fails + e2e_fail))
echo "$passed passed, $failed failed"
[ "$unit_rc" = 0 ] && [ "$e2e_rc" = 0 ] && [ "$failed" = 0 ]
