#!/usr/bin/env bash
# ops.sh -- the run script as a person runs it: `ops/run.sh run` (make run)
# on a terminal, stopped with Ctrl-C and with /quit; up and down.
set -u
. "$(dirname "$0")/lib.sh"
e2e_setup
cd "$ROOT"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
for how in ctrl-c quit; do
    $PY tests/conformance/pty_run.py "$E2E_DIR/run-$how" "$how" >"$E2E_DIR/pty-$how.out" 2>&1
    cat "$E2E_DIR/pty-$how.out"
    PASSED=$((PASSED + $(grep -c '^ok' "$E2E_DIR/pty-$how.out")))
    FAILED=$((FAILED + $(grep -c '^not ok' "$E2E_DIR/pty-$how.out")))
    grep -q '^ok' "$E2E_DIR/pty-$how.out" || not_ok "pty_run.py $how ran"
done
# up, the env file, down
R=$E2E_DIR/run-up
AA_RUN_DIR=$R AA_PORT=0 bash ops/run.sh up >"$E2E_DIR/up.out" 2>&1
check "up: starts" grep -q 'agent-async is up' "$E2E_DIR/up.out"
check "up: secrets are 0600" sh -c "test \"\$(stat -c %a $R/secret $R/token $R/env $R/mcp-client | sort -u)\" = 600"
check "up: . env exports the stack's Redis for aa-ctl" bash -c ". $R/env && $BINDIR/aa-ctl streams >/dev/null"
check "up: the client token is not on any command line" sh -c "! grep -lF -f $R/token /proc/[0-9]*/cmdline 2>/dev/null | grep -q ."
AA_RUN_DIR=$R bash ops/run.sh down >/dev/null 2>&1
check "down: secrets, pid files and the socket removed" sh -c "! ls $R/secret $R/token $R/env $R/mcp-client $R/*.pid $R/redis.sock 2>/dev/null | grep -q ."
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
