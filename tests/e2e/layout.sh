#!/usr/bin/env bash
# layout.sh -- the architecture as rules the source must keep: no include
# cycle among the modules, no upward include (the per-folder include paths
# are checked by compiling; here the folders' includes are listed too), no
# Redis name spelled outside lib/keys, every Lua script declaring its KEYS
# and ARGV, and no source file over 800 lines without a reason in its
# header.
set -u
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# the graph itself is printed only when it has a cycle
graph() {
    local out
    out=$($PY ops/include-graph.py "$@" 2>&1) || { printf '#   %s\n' "$out" | tail -5 >&2; return 1; }
}
check "include graph: no cycle among lib/ and gateway/ modules" graph lib gateway
check "include graph: no cycle among lib/, worker/ and ctl/ modules" graph lib worker ctl
check "include graph: no cycle among lib/ and client/ modules" graph lib client

# upward includes: lib/ includes nothing of the programs; the programs
# nothing of each other
upward() {
    local from=$1
    shift
    local h
    for h in "$@"; do
        if grep -rhoE '#include "[a-z_]+\.h"' $from | sed 's/.*"\(.*\)"/\1/' | sort -u |
            grep -qx -f <(cd "$h" && ls *.h); then
            echo "# $from includes a header of $h" >&2
            return 1
        fi
    done
}
check "layers: lib/ includes no header of gateway/, worker/, client/ or ctl/" \
    upward lib gateway worker worker/agent worker/tool client
check "layers: gateway/ includes none of worker/ or client/" upward gateway worker worker/agent \
    worker/tool client
check "layers: worker/ includes none of gateway/ or client/" upward "worker" gateway client
check "layers: worker/agent/ and worker/tool/ include none of each other" \
    bash -c "$(declare -f upward); upward worker/agent worker/tool && upward worker/tool worker/agent"
check "layers: ctl/ includes only lib/" upward ctl gateway worker worker/agent worker/tool client

# (inside a string too: "LRANGE aa:session:%s:memory" once hid one from a
# cell; comments and usage texts, which are not names, are left out)
no_names() { ! grep -rnE '"[^"]*aa:[a-z{*]' --include='*.c' --include='*.h' lib gateway worker client ctl |
    grep -vE '^lib/keys\.|^[^:]+:[0-9]+: *(/?\*|")'; }
check "Redis names: no \"aa:\" literal in C outside lib/keys" no_names

declared() {
    local f ok=0
    for f in lua/[a-z]*.lua; do
        grep -q '^--@keys' "$f" && grep -q '^--@argv' "$f" || { echo "# $f" >&2; ok=1; }
    done
    return $ok
}
check "Lua scripts: each declares --@keys and --@argv" declared

long_files() {
    local f ok=0
    for f in $(find lib gateway worker client ctl -name '*.[ch]' | sort); do
        if [ "$(wc -l <"$f")" -gt 800 ] && ! head -15 "$f" | grep -qi 'lines'; then
            echo "# $f: $(wc -l <"$f") lines and no reason in its header" >&2
            ok=1
        fi
    done
    return $ok
}
check "file sizes: none over 800 lines without a reason in its header" long_files

echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
