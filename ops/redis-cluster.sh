#!/usr/bin/env bash
# redis-cluster.sh -- a private local Redis Cluster on loopback: MASTERS
# masters with REPLICAS replicas each, ops/redis.conf's settings (AOF on),
# every node's data, log and pid under DIR. Used by the tests and by the
# cluster switch of `make up`.
#   redis-cluster.sh start DIR [MASTERS [REPLICAS]]   (default 3 masters, 1 replica each)
#   redis-cluster.sh stop DIR
# start prints the seed address, "cluster:127.0.0.1:P1,127.0.0.1:P2,...",
# the form every program's --redis / AA_REDIS takes, and writes it to
# DIR/addr. Ports are free ports found at start (each node also uses its
# port + 10000 for the cluster bus). AA_CLUSTER_NODE_TIMEOUT (ms, default
# 1000) is cluster-node-timeout: how soon a dead master's replica takes over.
# start on a DIR that holds a cluster made before restarts its nodes on
# their old ports, data and nodes.conf kept (make down, make up).
set -u
cd "$(dirname "$0")/.."

free_port() { # a TCP port nothing listens on, whose bus port is free too
    python3 - <<'EOF'
import random, socket
for _ in range(200):
    p = random.randint(20000, 29999)
    try:
        for q in (p, p + 10000):
            s = socket.socket()
            s.bind(("127.0.0.1", q))
            s.close()
        print(p)
        break
    except OSError:
        pass
EOF
}

node() { # DIR PORT: start one node (its nodes.conf, if any, says which cluster it is in)
    local dir=$1 port=$2
    mkdir -p "$dir/$port"
    redis-server "$PWD/ops/redis.conf" --port "$port" --bind 127.0.0.1 \
        --cluster-enabled yes --cluster-config-file "$dir/$port/nodes.conf" \
        --cluster-node-timeout "${AA_CLUSTER_NODE_TIMEOUT:-1000}" --dir "$dir/$port" \
        --logfile "$dir/$port/redis.log" --pidfile "$dir/$port/redis.pid" --daemonize yes \
        --repl-diskless-sync-delay 0
}

# ready PORT...: every node answers, says ok and sees every slot served, and
# every replica has its master's data (a replica still in its first sync
# could not take over).
ready() {
    for port in "$@"; do
        local end=$((SECONDS + 30))
        until redis-cli -p "$port" CLUSTER INFO 2>/dev/null | grep -q '^cluster_state:ok' &&
            redis-cli -p "$port" CLUSTER INFO | grep -q '^cluster_slots_ok:16384' &&
            ! redis-cli -p "$port" INFO replication | grep -q '^master_link_status:down'; do
            [ $SECONDS -lt $end ] || { echo "redis-cluster: node $port not ok" >&2; return 1; }
            sleep 0.05
        done
    done
}

start() {
    local dir=$1 masters=${2:-3} replicas=${3:-1}
    local n=$((masters * (1 + replicas)))
    mkdir -p "$dir"
    local addrs=() ports=()
    # A cluster made here before (make down, make up): the same nodes on
    # their ports again, with their data and their nodes.conf.
    if [ -s "$dir/addr" ] && [ -n "$(ls "$dir"/*/nodes.conf 2>/dev/null)" ]; then
        for conf in "$dir"/*/nodes.conf; do
            local port
            port=$(basename "$(dirname "$conf")")
            node "$dir" "$port" || return 1
            ports+=("$port")
        done
        ready "${ports[@]}" || return 1
        cat "$dir/addr"
        return 0
    fi
    for i in $(seq 1 "$n"); do
        local port
        port=$(free_port)
        [ -n "$port" ] || { echo "redis-cluster: no free port" >&2; return 1; }
        node "$dir" "$port" || return 1
        ports+=("$port")
        addrs+=("127.0.0.1:$port")
    done
    for port in "${ports[@]}"; do
        local end=$((SECONDS + 10))
        until redis-cli -p "$port" PING >/dev/null 2>&1; do
            [ $SECONDS -lt $end ] || { echo "redis-cluster: node $port did not start" >&2; return 1; }
            sleep 0.05
        done
    done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$replicas" --cluster-yes \
        >"$dir/create.log" 2>&1 || { cat "$dir/create.log" >&2; return 1; }
    ready "${ports[@]}" || return 1
    local seed
    seed="cluster:$(IFS=,; echo "${addrs[*]:0:$masters}")"
    echo "$seed" >"$dir/addr"
    echo "$seed"
}

stop() {
    local dir=$1 pids=() pid
    for pidf in "$dir"/*/redis.pid; do
        [ -f "$pidf" ] && pid=$(cat "$pidf" 2>/dev/null) && [ -n "$pid" ] && pids+=("$pid")
    done
    [ ${#pids[@]} = 0 ] && return 0
    kill "${pids[@]}" 2>/dev/null
    local end=$((SECONDS + 10))
    for pid in "${pids[@]}"; do
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.05; done
    done
    rm -f "$dir"/*/redis.pid
}

case "${1:-}" in
start) shift; start "$@" ;;
stop) shift; stop "$@" ;;
*) echo "usage: $0 start DIR [MASTERS [REPLICAS]] | stop DIR" >&2; exit 2 ;;
esac
