#!/usr/bin/env bash
# fresh-test.sh -- the README's first lines on a fresh machine: in a new
# debian:12-slim container with only `make` installed (as root), a clean copy
# of this checkout runs `make test` (which installs what it needs, builds and
# passes), then `make up` comes up and `make down` stops it.
# npm reaches its registry from a container only with this host's CA bundle:
# it is mounted at a path of its own (not under /etc/ssl) as NPM_CONFIG_CAFILE.
# Ends with "fresh: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
T0=$SECONDS
log() { echo "fresh-test: [$((SECONDS - T0)) s] $*"; }
started_engine=0
docker info >/dev/null 2>&1 || started_engine=1
bash ops/docker.sh engine-start || exit 1
bash ops/docker.sh base-images || exit 1
CA=$(npm config get cafile 2>/dev/null || true)
[ -n "$CA" ] && [ "$CA" != null ] && [ -f "$CA" ] || CA=/etc/ssl/certs/ca-certificates.crt
SRC=$(mktemp -d /tmp/aa-fresh.XXXXXX)
# a clean copy of what is committed (as CI's clone): no build output
git archive HEAD | tar -x -C "$SRC"
OUT=${TMPDIR:-/tmp}/fresh-test.out
log "a new debian:12-slim container: apt-get install make, then make test, make up, make down"
docker run --rm -v "$SRC:/src:ro" -v "$CA:/aa-ca/npm-ca.pem:ro" -e NPM_CONFIG_CAFILE=/aa-ca/npm-ca.pem \
    debian:12-slim bash -c '
        set -u
        export DEBIAN_FRONTEND=noninteractive
        t0=$SECONDS
        apt-get update -qq && apt-get install -y -qq --no-install-recommends make >/dev/null || exit 10
        echo "fresh: make installed, nothing else [$((SECONDS - t0)) s]"
        cp -r /src /w && cd /w
        make test >/tmp/test.out 2>&1
        rc=$?
        # Every failure, with its suite and its reason lines, then the tail.
        awk "/^== /{s=\$0} /^not ok/{print \"fresh: failed in \" s \": \" \$0; r=1; next}
             r && /^#/{print \"fresh:   \" \$0; next} {r=0}" /tmp/test.out
        tail -40 /tmp/test.out
        echo "fresh: make test exit $rc [$((SECONDS - t0)) s]"
        [ $rc = 0 ] || exit 11
        make up || exit 12
        . build/run/env
        build/bin/aa-client --prompt "What is my VPN status?" --json --session fresh --timeout-ms 20000 \
            --cmd-vpn-status "tests/e2e/fixtures/vpn_status.sh" >/tmp/ask.out 2>&1
        arc=$?
        grep -q chat_response /tmp/ask.out || arc=1
        echo "fresh: make up answered a chat: exit $arc [$((SECONDS - t0)) s]"
        make down || exit 14
        left=$(ls build/run/*.pid build/run/redis.sock build/run/token 2>/dev/null | wc -l)
        echo "fresh: make down left $left pid/socket/secret files [$((SECONDS - t0)) s]"
        [ $arc = 0 ] && [ $left = 0 ] || exit 13
    ' >"$OUT" 2>&1
rc=$?
grep -E '^(fresh:|[0-9]+ passed|not ok|#)' "$OUT"
rm -rf "$SRC"
[ $started_engine = 1 ] && bash ops/docker.sh engine-stop
log "container exit $rc"
if [ $rc = 0 ]; then echo "fresh: 1 passed, 0 failed"; else tail -30 "$OUT"; echo "fresh: 0 passed, 1 failed"; fi
exit $rc
