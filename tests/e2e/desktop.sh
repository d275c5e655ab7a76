#!/usr/bin/env bash
# desktop.sh -- aa-desktop (GTK 4) driven as a person drives it, under Xvfb:
# xdotool types questions into the window and presses Enter, answers the
# approval dialog with its keys (Allow once, Always allow, Deny), opens a log
# collection; what the window shows is read back from its widgets
# (--state-dump writes every visible label, button and entry of every
# window). The three tools, a denial, "always", the progress with its
# elapsed time, the notification of an answer that comes while the window is
# not focused, the preferences dialog. Screenshots of the main states are
# kept in build/test/desktop-shots.
set -u
. "$(dirname "$0")/lib.sh"
e2e_setup

if [ ! -x "$BINDIR/aa-desktop" ] || ! command -v Xvfb >/dev/null || ! command -v xdotool >/dev/null; then
    not_ok "desktop: aa-desktop, Xvfb and xdotool are installed (ops/deps.sh: libgtk-4-dev xvfb xdotool)"
    echo "e2e: $PASSED passed, $FAILED failed"
    exit 1
fi
start_redis
start_gateway gw --max-prompt 300
start_agent
start_tool
wait_for 10 "worker groups" groups_ready

# A private X display.
exec 5>"$E2E_DIR/display"
Xvfb -displayfd 5 -screen 0 1280x800x24 -nolisten tcp >"$E2E_DIR/xvfb.log" 2>&1 &
PIDS+=("$!")
wait_for 10 "Xvfb" test -s "$E2E_DIR/display"
export DISPLAY=":$(head -1 "$E2E_DIR/display")"

SHOTS=$ROOT/build/test/desktop-shots
rm -rf "$SHOTS"
mkdir -p "$SHOTS" "$E2E_DIR/xdg"
STATE=$E2E_DIR/state.json
ACTIONS=$E2E_DIR/actions.log
GTK_A11Y=none XDG_CONFIG_HOME=$E2E_DIR/xdg ASAN_OPTIONS=detect_leaks=0 "$BINDIR/aa-desktop" \
    --url "ws://127.0.0.1:$PORT/ws" --token "$(mint --sub desk --scope client --ttl-s 600)" \
    --session d-1 --state-dump "$STATE" --screenshot-dir "$SHOTS" \
    --cmd-vpn-status "$FIXTURES/slow_status.sh 2" --cmd-logs-vpn "$FIXTURES/logs_vpn.sh" \
    --cmd-connect-vpn "$FIXTURES/action.sh connect_vpn $ACTIONS" \
    --cmd-disconnect-vpn "$FIXTURES/action.sh disconnect_vpn $ACTIONS" >"$E2E_DIR/desktop.log" 2>&1 &
DPID=$!

# shows WINDOW_TITLE_REGEX WIDGET_NAME TEXT_REGEX: a visible widget of that
# name in that window shows text matching the regex.
shows() {
    /usr/bin/python3 - "$STATE" "$@" <<'PY'
import json, re, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(1)
win, name, text = sys.argv[2:5]
for w in d["windows"]:
    if re.search(win, w["title"]):
        for x in w["widgets"]:
            if x["name"] == name and re.search(text, x.get("text", x.get("label", "")), re.S):
                sys.exit(0)
sys.exit(1)
PY
}
field() { /usr/bin/python3 -c "import json,sys; print(json.load(open('$STATE'))['$1'])" 2>/dev/null; }
count_shows() {
    /usr/bin/python3 - "$STATE" "$@" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
print(sum(1 for w in d["windows"] for x in w["widgets"]
          if x["name"] == sys.argv[2] and re.search(sys.argv[3], x.get("text", ""))))
PY
}
not_shows() { ! shows "$@"; }
runs() { test "$(grep -c "^$1 " "$ACTIONS" 2>/dev/null)" = "$2"; }
notified_since() { test "$(field notifications)" -gt "$1"; }
main_win() { xdotool search --name '^agent-async' | head -1; }
focus_main() { xdotool windowfocus --sync "$(main_win)"; }
ask() { focus_main; xdotool type --delay 2 "$1"; xdotool key Return; }
answer_dialog() { # KEY: a (allow once), l (always), d (deny)
    wait_for 15 "the approval dialog" shows '^Allow this action' ask-cmd . || return 1
    xdotool windowfocus --sync "$(xdotool search --name '^Allow this action' | head -1)"
    xdotool key "alt+$1"
}

check "desktop: the window says it is connected" wait_for 20 "connected" shows '^agent-async' connection '^Connected, session d-1'
check "desktop: it says which commands the actions run" shows '^agent-async' chat-info 'Actions run 4 of 6 commands'

# get_vpn_status: typed, Enter; the progress counts the seconds the tool waits.
ask "what's my vpn status?"
check "status: the question shows in the chat" wait_for 5 "the question" shows '^agent-async' chat-you "what's my vpn status"
check "status: progress with the time waited" wait_for 5 "progress" shows '^agent-async' progress 'VPN status.*\([0-9]+ s\)'
check "status: the answer" wait_for 15 "the answer" shows '^agent-async' chat-agent 'currently connected'
check "status: the activity, who asked and what ran" shows '^agent-async' activity-title 'check the VPN status, asked by the chat'
check "status: its outcome and time" shows '^agent-async' activity-status 'VPN connected \([0-9.]+ s\)'
check "status: the progress is gone with the answer" not_shows '^agent-async' progress .

# analyze_logs: the collection's size, and its output can be opened.
ask "check my vpn logs"
check "logs: the analysis" wait_for 15 "the analysis" shows '^agent-async' chat-agent 'dead peer'
check "logs: collected bytes shown" shows '^agent-async' activity-status '^sent [0-9]+ bytes'
focus_main
xdotool key alt+o
check "logs: the collected output opens in a window" wait_for 10 "the log window" shows 'collect the vpn logs: [0-9]+ bytes' log-output 'DPD timeout'

# run_client_command connect_vpn: asked first, with the exact command; allowed once.
ask "connect my vpn"
check "connect: the dialog names who asks and the command" wait_for 15 "the dialog" shows '^Allow this action' ask-cmd "action.sh connect_vpn $ACTIONS"
check "connect: and what it does" shows '^Allow this action' ask-text 'the chat wants to connect the VPN on this computer'
check "connect: nothing ran before the answer" test ! -e "$ACTIONS"
shot_of() { ls "$SHOTS" | grep -q "$1"; }
check "connect: the dialog's screenshot saved" wait_for 10 "the screenshot" shot_of approval
answer_dialog a
check "connect: allowed once, it ran" wait_for 10 "connect ran" grep -q connect_vpn "$ACTIONS"
check "connect: the activity's outcome" wait_for 10 "done" shows '^agent-async' activity-status 'done \(exit status 0\)'

check "logs: the outcome is logged on stderr too" grep -q 'event=action action=connect_vpn by="the chat" ok=1' "$E2E_DIR/desktop.log"

# An error from the gateway is shown in words, with its code.
ask "$(printf 'tell me %.0s' $(seq 1 50))"
check "error: shown in words with its code" wait_for 10 "the error" shows '^agent-async' chat-error 'prompt_too_large'

# A denial: nothing runs, the agent is told and says so.
ask "disconnect my vpn"
answer_dialog d
check "deny: the activity says denied" wait_for 10 "denied" shows '^agent-async' activity-status 'denied: the user denied it'
check "deny: the agent says it did not run" wait_for 15 "the agent's answer" shows '^agent-async' chat-agent 'disconnect_vpn \(disconnect the VPN\) did not run on this computer: the user denied it'
check "deny: nothing ran" runs disconnect_vpn 0

# Always allow: kept in the configuration file; the next time, no question.
ask "connect my vpn"
answer_dialog l
check "always: it ran" wait_for 10 "the second connect" runs connect_vpn 2
check "always: kept in the configuration file" grep -q '^always-allow = connect_vpn$' "$E2E_DIR/xdg/agent-async/client.conf"
ask "connect my vpn"
check "always: the third connect runs without a question" wait_for 15 "the third connect" runs connect_vpn 3
check "always: no dialog was shown" not_shows '^Allow this action' ask-cmd .

# An answer that comes while the window is not focused: a notification.
before=$(field notifications)
ask "what's my vpn status?"
xdotool windowfocus --sync "$(xdotool search --name 'collect the vpn logs' | head -1)"
check "notify: an answer while not focused is notified" wait_for 15 "the notification" notified_since "$before"
check "notify: the title says so" shows '^agent-async \(new answer\)' connection .

# Preferences: the same settings as the terminal client, saved to its file.
focus_main
xdotool key alt+p
check "preferences: the dialog shows the settings" wait_for 10 "preferences" shows '^Preferences' url "ws://127.0.0.1:$PORT/ws"
check "preferences: the session" shows '^Preferences' session '^d-1$'
xdotool windowfocus --sync "$(xdotool search --name '^Preferences' | head -1)"
xdotool key alt+s
check "preferences: saved to the configuration file" wait_for 10 "saved" shows '^agent-async' chat-info "^Saved to $E2E_DIR/xdg/agent-async/client.conf"

# A streamed answer grows in place: one bubble, however many chat_delta
# pieces (a real provider's stream, from the stand-in server).
kill "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
forget "$AGENT_PID"
FAKE_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 "$ROOT/tests/fakes/llm.py" "$FAKE_PORT" "$E2E_DIR/llm.jsonl" 2>>"$E2E_DIR/llm.err" &
FAKE_PID=$!
wait_for 10 "the stand-in provider" bash -c "exec 3<>/dev/tcp/127.0.0.1/$FAKE_PORT"
OPENAI_API_KEY=sk-test OPENAI_BASE_URL=http://127.0.0.1:$FAKE_PORT/v1 start_agent --llm-provider openai
ask "what is the vpn status now"
check "stream: the answer, streamed" wait_for 20 "the streamed answer" shows '^agent-async' chat-agent '^Model says: status=connected$'
deltas() { test "$(rcli --raw XRANGE "$(key outbox d-1)" - + | grep -c '"event":"chat_delta"')" -ge 2; }
check "stream: it came in several chat_delta pieces" deltas
check "stream: one bubble, grown in place" test "$(count_shows chat-agent '^Model says: status=connected$')" = 1
check "stream: no bubble holds a piece of it" test "$(count_shows chat-agent '^Model says')" = 1
kill "$FAKE_PID"
wait "$FAKE_PID" 2>/dev/null

# make run on a desktop: ops/run.sh starts aa-desktop when there is a
# display; closing it (SIGINT, as Ctrl-C) stops everything in order.
kill -TERM "$DPID"
wait "$DPID"
check "desktop: SIGTERM exits 0" test $? = 0
RUNDIR=$E2E_DIR/run
(cd "$ROOT" && AA_RUN_DIR=$RUNDIR AA_PORT=0 BINDIR=$BINDIR XDG_CONFIG_HOME=$E2E_DIR/xdg-run \
    GTK_A11Y=none ASAN_OPTIONS=detect_leaks=0 bash ops/run.sh run >"$E2E_DIR/run.out" 2>&1) &
RUNPID=$!
desktop_of_run() { pgrep -f "^$BINDIR/aa-desktop --url" >/dev/null; }
check "make run: starts the desktop app when there is a display" wait_for 30 "aa-desktop from run.sh" desktop_of_run
check "make run: its window connects" wait_for 20 "the window" sh -c "xdotool search --name '^agent-async' >/dev/null"
pkill -INT -f "^$BINDIR/aa-desktop --url"
wait "$RUNPID"
none_left() { ! pgrep -f "$RUNDIR" >/dev/null; }
check "make run: closing the app stops everything" none_left
check "make run: said what it started" grep -q 'run: starting aa-desktop' "$E2E_DIR/run.out"

shots_all() { shot_of connected && shot_of answer && shot_of approval; }
check "screenshots: connected, an answer, the approval dialog" shots_all
check "desktop: no GTK criticals" sh -c "! grep -E 'CRITICAL|segfault|ERROR' '$E2E_DIR/desktop.log'"
check "shutdown: SIGTERM exits 0 everywhere, no sanitizer reports" stop_programs
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
