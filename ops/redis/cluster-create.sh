#!/usr/bin/env bash
# cluster-create.sh -- the compose cluster profile's job: makes the nodes
# named on the command line one Redis Cluster (the first half masters, one
# replica each), unless they already are one; exits when every slot is
# served. Run in the agent-async-redis image (ops/redis/Dockerfile).
set -eu
nodes=("$@")
[ ${#nodes[@]} -ge 3 ] || { echo "cluster-create: name at least 3 nodes" >&2; exit 2; }
if redis-cli -h "${nodes[0]}" CLUSTER INFO | grep -q '^cluster_state:ok'; then
    echo "cluster-create: the cluster is already made"
    exit 0
fi
addrs=()
for n in "${nodes[@]}"; do
    ip=$(getent hosts "$n" | awk '{print $1; exit}')
    [ -n "$ip" ] || { echo "cluster-create: no address for $n" >&2; exit 1; }
    addrs+=("$ip:6379")
done
redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes
for _ in $(seq 1 240); do
    if redis-cli -h "${nodes[0]}" CLUSTER INFO | grep -q '^cluster_slots_ok:16384' &&
        redis-cli -h "${nodes[0]}" CLUSTER INFO | grep -q '^cluster_state:ok'; then
        echo "cluster-create: ok"
        exit 0
    fi
    sleep 0.5
done
echo "cluster-create: the cluster did not become ok" >&2
exit 1
