#!/usr/bin/env bash
# cluster.sh -- part of `make bench`: the callback round trip and resumes/s
# on one Redis and on a Redis Cluster (3 masters, a replica each), in the
# same run, alternated rounds, each on a fresh Redis over TCP loopback with
# ops/redis.conf (AOF on). Everything a round makes is in one cell, so on the
# cluster one master serves it: resumes/s is per master. Prints each
# round's figures, then the medians and the ratios (cluster / one Redis).
#   BENCH_CLUSTER_ROUNDS  rounds of each (default 3)
#   BENCH_N_RT            round trips per round (default 2000)
#   BENCH_CLUSTER_SUSP    executions suspended and resumed per round (20000)
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh
BINDIR=${BINDIR:-build/bin}
e2e_setup
ROUNDS=${BENCH_CLUSTER_ROUNDS:-3}
NRT=${BENCH_N_RT:-2000}
NSUSP=${BENCH_CLUSTER_SUSP:-20000}
OUT=$E2E_DIR/cluster-bench.txt

single_up() { # one redis-server on a loopback TCP port
    local port
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$E2E_DIR/single"
    rm -rf "$E2E_DIR/single"/*
    redis-server ops/redis.conf --port "$port" --bind 127.0.0.1 --dir "$E2E_DIR/single" \
        --logfile "$E2E_DIR/single/redis.log" &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    REDIS=127.0.0.1:$port
    REDIS_SOCK=
    wait_for 10 "redis-server" redis-cli -p "$port" PING
}

round() { # MODE: single | cluster
    local mode=$1 rt su
    if [ "$mode" = cluster ]; then
        export AA_E2E_CLUSTER=1
        start_redis
    else
        unset AA_E2E_CLUSTER
        single_up
    fi
    start_gateway gw --log-level warn --rate-per-s 100000 --rate-burst 100000
    TOKEN=$(mint --sub bench --ttl-s 3600)
    rt=$("$BINDIR/aa-bench" roundtrip --redis "$REDIS" --url "ws://127.0.0.1:$PORT/ws" \
        --token "$TOKEN" --n "$NRT")
    local w1 w2
    "$BINDIR/aa-bench" worker --redis "$REDIS" --threads 4 2>>"$E2E_DIR/bench-worker.log" &
    w1=$!
    "$BINDIR/aa-bench" worker --redis "$REDIS" --threads 4 2>>"$E2E_DIR/bench-worker.log" &
    w2=$!
    su=$("$BINDIR/aa-bench" suspend --redis "$REDIS" --n "$NSUSP" |
        grep -E 'resumes/s|per completion|bytes per suspended' | tr '\n' ' ')
    kill "$w1" "$w2"
    wait "$w1" "$w2" 2>/dev/null
    echo "$mode roundtrip: $rt" | tee -a "$OUT"
    echo "$mode suspend: $su" | tee -a "$OUT"
    stop_programs >/dev/null 2>&1
    if [ "$mode" = cluster ]; then
        bash ops/redis-cluster.sh stop "$CLUSTER_DIR"
    else
        kill "$REDIS_PID"
        wait "$REDIS_PID" 2>/dev/null
        forget "$REDIS_PID"
        REDIS_PID=
    fi
}

for _ in $(seq "$ROUNDS"); do
    round single
    round cluster
done
/usr/bin/python3 - "$OUT" <<'EOF'
import re, statistics, sys
rt = {"single": [], "cluster": []}
rs = {"single": [], "cluster": []}
per = {"single": [], "cluster": []}
for line in open(sys.argv[1]):
    m = re.match(r"(\w+) roundtrip: .* p50=([\d.]+) ms p90=[\d.]+ ms p99=([\d.]+) ms", line)
    if m:
        rt[m.group(1)].append((float(m.group(2)), float(m.group(3))))
    m = re.match(r"(\w+) suspend: .*: (\d+) resumes/s", line)
    if m:
        rs[m.group(1)].append(float(m.group(2)))
        b = re.search(r"(\d+) bytes per suspended execution", line)
        c = re.search(r"([\d.]+) Redis commands, ([\d.]+) us of Redis CPU", line)
        if b and c:
            per[m.group(1)].append((float(b.group(1)), float(c.group(1)), float(c.group(2))))
def med(xs):
    return statistics.median(xs) if xs else float("nan")
s50, c50 = med([x[0] for x in rt["single"]]), med([x[0] for x in rt["cluster"]])
s99, c99 = med([x[1] for x in rt["single"]]), med([x[1] for x in rt["cluster"]])
sr, cr = med(rs["single"]), med(rs["cluster"])
print("cluster medians (%d rounds each): figure, one Redis, cluster (one master), ratio" % len(rs["cluster"]))
print("  callback round trip p50: %.3f ms, %.3f ms, %.2fx (target: within 1.3x)" % (s50, c50, c50 / s50))
print("  callback round trip p99: %.3f ms, %.3f ms, %.2fx" % (s99, c99, c99 / s99))
print("  resumes/s per master: %.0f, %.0f, %.2fx (target: not lower)" % (sr, cr, cr / sr))
for i, what in enumerate(["bytes per suspended execution", "Redis commands per resume",
                          "Redis CPU us per resume"]):
    a, b = med([x[i] for x in per["single"]]), med([x[i] for x in per["cluster"]])
    print("  %s: %.1f, %.1f, %.2fx" % (what, a, b, b / a if a else float("nan")))
EOF
echo "bench: cluster done"
