#!/usr/bin/env bash
# docker.sh -- what the container path needs on a machine without a
# registry: a Docker engine, and the base images a registry would give.
#   ops/docker.sh engine-start   start dockerd (its own data root) unless one answers
#   ops/docker.sh engine-stop    stop the dockerd that engine-start started
#   ops/docker.sh base-images    make debian:12-slim when it cannot be pulled:
#                                debootstrap --variant=minbase bookworm from the
#                                configured Debian mirror, then docker import
# AA_DOCKER_ROOT (default /var/lib/agent-async-docker) is the data root of the
# engine it starts; AA_DEBIAN_MIRROR overrides the mirror (default: the one
# apt uses here). The Redis image is built by compose from ops/redis/.
set -euo pipefail
ROOT=${AA_DOCKER_ROOT:-/var/lib/agent-async-docker}
PIDFILE=/run/agent-async-dockerd.pid

say() { echo "docker.sh: $*" >&2; }

engine_start() {
    if docker info >/dev/null 2>&1; then
        say "a Docker engine is running"
        return 0
    fi
    command -v dockerd >/dev/null || { say "no dockerd: apt-get install docker.io"; return 1; }
    mkdir -p "$ROOT"
    say "starting dockerd (data root $ROOT)"
    setsid dockerd --data-root "$ROOT" --pidfile "$PIDFILE" >"$ROOT/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    say "dockerd did not come up; see $ROOT/dockerd.log"
    tail -20 "$ROOT/dockerd.log" >&2
    return 1
}

engine_stop() {
    [ -s "$PIDFILE" ] || return 0
    local pid
    pid=$(cat "$PIDFILE")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    rm -f "$PIDFILE"
    say "dockerd stopped"
}

mirror() {
    if [ -n "${AA_DEBIAN_MIRROR:-}" ]; then echo "$AA_DEBIAN_MIRROR"; return; fi
    local m
    m=$(grep -hE '^URIs:.*/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 |
        awk '{print $2}')
    [ -n "$m" ] || m=$(grep -hE '^deb .*/debian/? bookworm' /etc/apt/sources.list 2>/dev/null |
        head -1 | awk '{print $2}')
    echo "${m:-http://deb.debian.org/debian}"
}

base_images() {
    if docker image inspect debian:12-slim >/dev/null 2>&1; then
        say "debian:12-slim is there"
        return 0
    fi
    if timeout 30 docker pull -q debian:12-slim >/dev/null 2>&1; then
        say "debian:12-slim pulled"
        return 0
    fi
    command -v debootstrap >/dev/null || { say "no debootstrap: apt-get install debootstrap"; return 1; }
    local dir m
    dir=$(mktemp -d /tmp/aa-debootstrap.XXXXXX)
    m=$(mirror)
    say "no registry: making debian:12-slim with debootstrap from $m"
    debootstrap --variant=minbase bookworm "$dir" "$m" >"$dir.log" 2>&1 ||
        { tail -20 "$dir.log" >&2; rm -rf "$dir"; return 1; }
    # as the official image: no apt caches, the same mirror for apt
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    tar -C "$dir" -c . | docker import -c 'CMD ["bash"]' - debian:12-slim >/dev/null
    rm -rf "$dir" "$dir.log"
    say "debian:12-slim imported"
}

case "${1:-}" in
engine-start) engine_start ;;
engine-stop) engine_stop ;;
base-images) base_images ;;
*)
    echo "usage: ops/docker.sh engine-start|engine-stop|base-images" >&2
    exit 2
    ;;
esac
