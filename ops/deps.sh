#!/bin/sh
# deps.sh -- install the Debian 12 packages agent-async needs, when missing.
# As root it runs apt-get; otherwise it prints the one command to run.
# Usage: ops/deps.sh [--build|--runtime|--test|--ci]   (default: build, runtime, test)
set -eu
BUILD="gcc make pkg-config libc6-dev libhiredis-dev libevent-dev libwebsockets-dev libwebsockets-evlib-glib libglib2.0-dev libgtk-4-dev libcurl4-openssl-dev libjansson-dev libwslay-dev libhttp-parser-dev libssl-dev libedit-dev check libsubunit-dev"
RUNTIME="redis-server redis-tools"
TEST="procps coreutils openssl curl python3 python3-websockets python3-botocore xvfb xdotool fonts-dejavu-core"
CI="clang-format docker-compose clang libclang-rt-14-dev docker.io debootstrap"
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
# apt with a bounded wait for the dpkg lock (another apt, unattended
# upgrades): apt's own timeout for dpkg, and retries for the lists lock.
apt_wait() {
    tries=0
    until apt-get -o DPkg::Lock::Timeout=300 "$@" 2>"${TMPDIR:-/tmp}/deps.err.$$"; do
        tries=$((tries + 1))
        if ! grep -q 'lock' "${TMPDIR:-/tmp}/deps.err.$$" || [ $tries -ge 60 ]; then
            cat "${TMPDIR:-/tmp}/deps.err.$$" >&2
            rm -f "${TMPDIR:-/tmp}/deps.err.$$"
            return 1
        fi
        [ $tries = 1 ] && echo "deps: another apt holds the lock; waiting (up to 5 minutes)" >&2
        sleep 5
    done
    rm -f "${TMPDIR:-/tmp}/deps.err.$$"
}
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt_wait update -qq
    apt_wait install -y -qq --no-install-recommends $missing >/dev/null
    # redis-server's package starts a system instance; ours run privately.
    exit 0
fi
echo "deps: missing Debian packages:$missing" >&2
echo "deps: run as root:  apt-get install -y --no-install-recommends$missing" >&2
exit 1
