#!/bin/sh
# deps.sh -- install the Debian 12 packages agent-async needs, when missing.
# As root it runs apt-get; otherwise it prints the one command to run.
# Usage: ops/deps.sh [--build|--runtime|--test|--ci]   (default: build, runtime, test)
set -eu
BUILD="gcc make pkg-config libc6-dev libhiredis-dev libevent-dev libwebsockets-dev libcurl4-openssl-dev libjansson-dev libwslay-dev libhttp-parser-dev libssl-dev libedit-dev check libsubunit-dev"
RUNTIME="redis-server redis-tools"
TEST="procps coreutils openssl curl python3 python3-websockets"
CI="clang-format docker-compose clang libclang-rt-14-dev"
case "${1:-all}" in
--build) want="$BUILD" ;;
--runtime) want="$RUNTIME" ;;
--test) want="$TEST" ;;
--ci) want="$BUILD $RUNTIME $TEST $CI" ;;
*) want="$BUILD $RUNTIME $TEST" ;;
esac
missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# the tests' npm peers need node and npm (Debian's, when there are none)
case " $want " in *" python3-websockets "*)
    command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm" ;;
esac
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    # redis-server's package starts a system instance; ours run privately.
    exit 0
fi
echo "deps: missing Debian packages:$missing" >&2
echo "deps: run as root:  apt-get install -y --no-install-recommends$missing" >&2
exit 1
