#!/usr/bin/env bash
# compose-test.sh -- the container path for real, as CI runs it: a Docker
# engine (started when none runs), the base images (debootstrap when no
# registry answers), the images built, the stack up with two tool workers
# and two agent workers, every service healthy, the e2e service's scenarios
# against it, a tool-worker container killed while a callback waits (the
# answer still arrives, once), a worker unhealthy while Redis is down; then
# the cluster profile: six Redis nodes made one cluster by its job, the
# stack on it, the e2e service's scenarios against it (the records of 200
# sessions on every master); and everything torn down. Ends with
# "compose: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
T0=$SECONDS
PASSED=0
FAILED=0
log() { echo "compose-test: [$((SECONDS - T0)) s] $*"; }
ok() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $1"; [ -n "${2:-}" ] && echo "#   $2"; return 0; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-aaci}
export AA_PORT=${AA_PORT:-18180}
DC=(docker-compose -f compose.yaml)
started_engine=0
finish() {
    log "tearing down"
    "${DC[@]}" --profile e2e --profile cluster down -v --remove-orphans >/dev/null 2>&1
    [ $started_engine = 1 ] && bash ops/docker.sh engine-stop
    [ -n "${made_env:-}" ] && rm -f .env
    log "compose: $PASSED passed, $FAILED failed"
    echo "compose: $PASSED passed, $FAILED failed"
}
trap finish EXIT

docker info >/dev/null 2>&1 || started_engine=1
bash ops/docker.sh engine-start || { not_ok "a Docker engine runs"; exit 1; }
log "base images"
bash ops/docker.sh base-images || { not_ok "debian:12-slim is there or can be made"; exit 1; }
if [ ! -s .env ]; then
    sh ops/compose-env.sh >/dev/null
    made_env=1
fi
log "building the images (agent-async, agent-async-e2e, agent-async-redis)"
if "${DC[@]}" --profile e2e build >"${TMPDIR:-/tmp}/compose-build.log" 2>&1; then
    ok "images build"
else
    tail -30 "${TMPDIR:-/tmp}/compose-build.log"
    not_ok "images build"
    exit 1
fi
log "up: --scale tool-worker=2 --scale agent-worker=2"
"${DC[@]}" up -d --scale tool-worker=2 --scale agent-worker=2 >/dev/null 2>&1

health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1"; }
all_healthy() { # [N]: N containers running (default 6), every one healthy
    local c
    for c in $("${DC[@]}" ps -q); do
        [ "$(docker inspect -f '{{.State.Running}}' "$c")" = true ] || continue
        [ "$(health "$c")" = healthy ] || return 1
    done
    [ "$(docker ps -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" | wc -l)" = "${1:-6}" ]
}
wait_until() { # SECONDS COMMAND...
    local end=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $end ] && return 1; sleep 1; done
}
if wait_until 120 all_healthy; then
    ok "six containers up and healthy (redis, gateway, 2 agent workers, 2 tool workers)"
else
    "${DC[@]}" ps
    not_ok "six containers up and healthy"
fi
log "stack healthy"

log "e2e service"
"${DC[@]}" --profile e2e run --rm -T e2e >"${TMPDIR:-/tmp}/compose-e2e.out" 2>&1
rc=$?
grep -E '^(not ok|#)' "${TMPDIR:-/tmp}/compose-e2e.out"
line=$(grep -E '^e2e: [0-9]+ passed' "${TMPDIR:-/tmp}/compose-e2e.out" | tail -1)
log "e2e service: ${line:-no summary} (exit $rc)"
check "the e2e service passes against the stack (${line:-no summary})" test "$rc" = 0 -a -n "$line"

log "a tool worker killed while its callback waits"
KTOK=$("${DC[@]}" exec -T gateway aa-ctl token --sub killtest --ttl-s 600 | tr -d '\r')
F=/usr/share/agent-async/tests/e2e/fixtures
"${DC[@]}" --profile e2e run --rm -T e2e aa-client --approve-changes allow --url ws://gateway:8080/ws --token "$KTOK" \
    --session kill-1 --json --quiet --prompt "What's my VPN status?" --timeout-ms 60000 \
    --cmd-vpn-status "$F/slow_vpn_status.sh 4" >"${TMPDIR:-/tmp}/compose-kill.out" 2>&1 &
kpid=$!
waiting_cb() { "${DC[@]}" exec -T gateway aa-ctl callbacks | awk '$3 == "kill-1" {print $1}' | grep -m1 '^cb-'; }
wait_until 30 waiting_cb
cb=$(waiting_cb | tr -d '\r')
tag=${cb##*.}
victim=""
for c in $("${DC[@]}" ps -q tool-worker); do
    # not grep -q: with pipefail, docker logs would die of SIGPIPE
    docker logs "$c" 2>&1 | grep "resumer_tag=$tag " >/dev/null && victim=$c
done
if [ -n "$cb" ] && [ -n "$victim" ]; then
    docker kill "$victim" >/dev/null
    log "killed $(docker inspect -f '{{.Name}}' "$victim") (tag $tag) while $cb waits"
    ok "the waiting callback's worker found and killed"
else
    not_ok "the waiting callback's worker found and killed" "callback '$cb', tag '$tag'; tags: $(
        for c in $("${DC[@]}" ps -q tool-worker); do docker logs "$c" 2>&1 | grep -o 'resumer_tag=[^ ]*'; done | tr '\n' ' ')"
fi
wait "$kpid"
krc=$?
answers=$(grep -c '"event":"chat_response"' "${TMPDIR:-/tmp}/compose-kill.out")
check "after the kill the answer arrives (client exit $krc)" test "$krc" = 0
check "exactly once ($answers chat_response)" test "$answers" = 1
check "and it says connected" grep -q 'currently connected' "${TMPDIR:-/tmp}/compose-kill.out"
log "kill test done: exit $krc, $answers answer(s)"
"${DC[@]}" up -d --scale tool-worker=2 --scale agent-worker=2 >/dev/null 2>&1

log "Redis stopped: the workers turn unhealthy"
"${DC[@]}" stop redis >/dev/null 2>&1
unhealthy_worker() { [ "$(health "$("${DC[@]}" ps -q tool-worker | head -1)")" = unhealthy ]; }
check "a tool worker whose Redis is gone is unhealthy" wait_until 90 unhealthy_worker
"${DC[@]}" start redis >/dev/null 2>&1
check "and healthy again when Redis is back" wait_until 90 all_healthy

log "the cluster profile: six Redis nodes, the job, the stack on the cluster"
"${DC[@]}" down -v >/dev/null 2>&1
export AA_REDIS=cluster:redis-c1:6379,redis-c2:6379,redis-c3:6379
DC=(docker-compose -f compose.yaml --profile cluster)
"${DC[@]}" up -d --scale tool-worker=2 --scale agent-worker=2 >/dev/null 2>&1
job_done() {
    local id
    id=$("${DC[@]}" ps -a -q redis-cluster)
    [ -n "$id" ] && [ "$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$id")" = "exited 0" ]
}
check "the job made the six nodes one cluster" wait_until 120 job_done
# six nodes, one redis (the default stack's, unused), gateway, 4 workers
if wait_until 180 all_healthy 12; then
    ok "on the cluster: twelve containers up and healthy"
else
    "${DC[@]}" ps
    not_ok "on the cluster: twelve containers up and healthy"
fi
masters=$("${DC[@]}" exec -T redis-c1 redis-cli CLUSTER NODES | grep -c master)
check "three masters, each with a replica ($masters masters)" test "$masters" = 3
"${DC[@]}" --profile e2e run --rm -T e2e >"${TMPDIR:-/tmp}/compose-cluster.out" 2>&1
rc=$?
grep -E '^(not ok|#)' "${TMPDIR:-/tmp}/compose-cluster.out"
line=$(grep -E '^e2e: [0-9]+ passed' "${TMPDIR:-/tmp}/compose-cluster.out" | tail -1)
log "e2e service on the cluster: ${line:-no summary} (exit $rc)"
check "the e2e service passes against the stack on the cluster (${line:-no summary})" \
    test "$rc" = 0 -a -n "$line"
check "the records of 200 sessions on every master" \
    grep -q '^ok - cluster: 200 sessions' "${TMPDIR:-/tmp}/compose-cluster.out"
[ "$FAILED" = 0 ]
