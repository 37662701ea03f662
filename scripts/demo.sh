#!/usr/bin/env bash
# The main job, live: a real supervisord runs a small web app and httpok as its event
# listener; the demo freezes the app (SIGSTOP: process alive, port open, no answers,
# like the 2009 outage) and shows httpok restarting it, with the log lines.
#
#   scripts/demo.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

echo "== setting up .venv (supervisor 4.3.0; downloaded on the first run only)"
bash scripts/venv.sh
echo "== building httpok (cargo build: a few minutes the first time, seconds after that)"
cargo build --quiet
venv="$root/.venv/bin"
dir="$(mktemp -d /tmp/httpok-demo.XXXXXX)"
port="$("$venv/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
sock="$dir/supervisor.sock"
frozen=""

cleanup() {
    [ -n "$frozen" ] && kill -CONT "$frozen" 2>/dev/null || true
    [ -f "$dir/supervisord.pid" ] && kill "$(cat "$dir/supervisord.pid")" 2>/dev/null || true
    sleep 1
    rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/supervisord.conf" <<EOF
[supervisord]
nodaemon=true
silent=true
logfile=$dir/supervisord.log
pidfile=$dir/supervisord.pid
childlogdir=$dir

[unix_http_server]
file=$sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$sock

[program:web]
command=$venv/python $root/tests/apps/webapp.py --port $port --mode ok
stopwaitsecs=3
stderr_logfile=$dir/web.log

[eventlistener:httpok]
command=$root/target/debug/httpok -p web -t 2 -b OK http://127.0.0.1:$port/
events=TICK_5
stderr_logfile=$dir/httpok.log
EOF

ctl() { "$venv/supervisorctl" -c "$dir/supervisord.conf" "$@"; }
# Polls `ctl pid web` until it prints a pid other than $1 with web RUNNING.
wait_new_pid() {
    local old="$1" deadline=$((SECONDS + 90)) pid
    while [ $SECONDS -lt $deadline ]; do
        pid="$(ctl pid web 2>/dev/null || true)"
        if [ "$pid" != "$old" ] && [ "$pid" != "0" ] && [[ "$pid" =~ ^[0-9]+$ ]] &&
            ctl status web 2>/dev/null | grep -q RUNNING; then
            echo "$pid"
            return 0
        fi
        sleep 0.5
    done
    echo "timed out waiting for web to restart" >&2
    return 1
}

echo "== starting supervisord in $dir (app on port $port, httpok on TICK_5)"
echo "== waiting for web and httpok to be RUNNING..."
"$venv/supervisord" -c "$dir/supervisord.conf" &
pid="$(wait_new_pid 0)"
until ctl status httpok 2>/dev/null | grep -q RUNNING; do sleep 0.5; done
echo "== web is RUNNING as pid $pid and answers:"
until curl -fsS --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null; do sleep 0.3; done
echo

echo "== freezing web (kill -STOP $pid): still RUNNING to supervisord, but every request hangs"
kill -STOP "$pid"
frozen="$pid"
ctl status web
echo "== waiting for httpok's next tick to notice and restart it..."
new_pid="$(wait_new_pid "$pid")"
frozen=""
echo "== web is RUNNING again as pid $new_pid:"
ctl status web
until curl -fsS --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null; do sleep 0.3; done
echo
echo
echo "== httpok's log (its stderr, in the supervisor log):"
cat "$dir/httpok.log"
echo
echo "== supervisord's log, the restart:"
grep -E "web|httpok" "$dir/supervisord.log" | grep -vE "DEBG" | tail -n 8
