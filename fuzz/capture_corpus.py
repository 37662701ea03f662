#!/usr/bin/env python3
"""Records the seed corpus for the fuzz targets from a real supervisord.

    .venv/bin/python fuzz/capture_corpus.py     # rewrites fuzz/corpus/{listener,xmlrpc}/captured-*

Starts supervisord (from .venv, made by scripts/venv.sh) in a temp dir with a
recording event listener and a few programs that produce every kind of event
httpok can be sent, then:

* listener: the exact bytes supervisord wrote to the listener's stdin, one file per
  event (header line + payload), plus one file with the whole stream;
* xmlrpc: the exact HTTP/1.0 replies (status line, headers, body) to the calls httpok
  makes and the faults it must handle, read to EOF from the unix socket.

Run it as the recorder with `--record DIR` (supervisord does that).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")


def record(out_dir):
    """The event listener: answers OK to everything, saving each event's raw bytes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stream = open(os.path.join(out_dir, "stream"), "ab")
    n = 0
    while True:
        stdout.write(b"READY\n")
        stdout.flush()
        header = stdin.readline()
        if not header:
            return
        tokens = dict(t.split(b":", 1) for t in header.split() if b":" in t)
        chars = int(tokens[b"len"])
        payload = bytearray()
        while chars > 0:  # len counts characters: read lead bytes, then the rest
            byte = stdin.read(1)
            payload += byte
            lead = byte[0]
            width = 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
            payload += stdin.read(width - 1)
            chars -= 1
        name = tokens[b"eventname"].decode()
        with open(os.path.join(out_dir, "%04d-%s" % (n, name)), "wb") as f:
            f.write(header + payload)
        stream.write(header + payload)
        stream.flush()
        n += 1
        stdout.write(b"RESULT 2\nOK")
        stdout.flush()


CHATTY = r"""
import sys, time
out = sys.stdout.buffer
for line in [
    "caf\u00e9 \u2603 \U0001F600 na\u00efve\n".encode(),
    b"not utf-8: \xff\xfe\xc3(\n",
    b"<!--XSUPERVISOR:BEGIN-->state:\xc3\xa9t\xc3\xa9 \xe2\x98\x83<!--XSUPERVISOR:END-->\n",
]:
    out.write(line)
    out.flush()
    time.sleep(1.5)  # one PROCESS_LOG event per line
time.sleep(1000)
"""

CONFIG = """
[supervisord]
nodaemon=true
logfile={d}/supervisord.log
pidfile={d}/supervisord.pid
childlogdir={d}
loglevel=info
user=root

[unix_http_server]
file={d}/s.sock
username=user
password=s3cret

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[eventlistener:recorder]
command={py} {me} --record {d}/events
events=TICK_5,PROCESS_STATE,PROCESS_LOG,PROCESS_COMMUNICATION,REMOTE_COMMUNICATION,PROCESS_GROUP,SUPERVISOR_STATE_CHANGE
buffer_size=100
startsecs=0

[program:web]
command={py} -c "import time; time.sleep(1000)"
startsecs=1
stopwaitsecs=2

[program:caf\u00e9]
command={py} {d}/chatty.py
stdout_events_enabled=true
stdout_capture_maxbytes=1MB
startsecs=1

[program:echo]
command={py} -c "import sys, time; print('h\u00e9 \u2603 \U0001F600', flush=True); print('\u00fcber stderr', file=sys.stderr, flush=True); time.sleep(1000)"
stdout_events_enabled=true
stderr_events_enabled=true
startsecs=1

[program:brief]
command={py} -c "import time; time.sleep(2)"
startsecs=0
autorestart=false

[program:flaky]
command={py} -c "raise SystemExit(3)"
startsecs=1
startretries=1
autorestart=false

[group:pool]
programs=web
"""


def rpc(sock, body, path=b"/RPC2", auth=b"dXNlcjpzM2NyZXQ="):
    """One raw HTTP/1.0 POST over the unix socket; the reply as read to EOF."""
    data = body.encode()
    request = (
        b"POST %s HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
        b"Authorization: Basic %s\r\nContent-Length: %d\r\n\r\n" % (path, auth, len(data))
    ) + data
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sock)
    s.sendall(request)
    reply = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return reply
        reply += chunk


def call(method, *params):
    xml = "".join("<param><value>%s</value></param>" % p for p in params)
    return (
        "<?xml version='1.0'?><methodCall><methodName>%s</methodName><params>%s</params></methodCall>"
        % (method, xml)
    )


def s(text):
    return "<string>%s</string>" % text


def b(flag):
    return "<boolean>%d</boolean>" % flag


CALLS = [
    ("getAllProcessInfo", call("supervisor.getAllProcessInfo")),
    ("getProcessInfo", call("supervisor.getProcessInfo", s("pool:web"))),
    ("getProcessInfo-nonascii", call("supervisor.getProcessInfo", s("caf\u00e9"))),
    ("getProcessInfo-BAD_NAME", call("supervisor.getProcessInfo", s("nope"))),
    ("getProcessInfo-group-BAD_NAME", call("supervisor.getProcessInfo", s("pool:*"))),
    ("getState", call("supervisor.getState")),
    ("getAPIVersion", call("supervisor.getAPIVersion")),
    ("readProcessStdoutLog-500", call("supervisor.readProcessStdoutLog", s("caf\u00e9"), "<int>0</int>", "<int>200</int>")),
    ("startProcess-ALREADY_STARTED", call("supervisor.startProcess", s("pool:web"), b(1))),
    ("stopProcess-wait", call("supervisor.stopProcess", s("pool:web"), b(1))),
    ("stopProcess-NOT_RUNNING", call("supervisor.stopProcess", s("pool:web"), b(1))),
    ("startProcess-nowait", call("supervisor.startProcess", s("pool:web"), b(0))),
    ("stopProcess-group", call("supervisor.stopProcessGroup", s("pool"), b(1))),
    ("startProcess-group", call("supervisor.startProcessGroup", s("pool"), b(1))),
    ("signalProcess-BAD_SIGNAL", call("supervisor.signalProcess", s("pool:web"), s("NOPE"))),
    ("startProcess-SPAWN_ERROR", call("supervisor.startProcess", s("flaky"), b(1))),
    ("sendRemoteCommEvent", call("supervisor.sendRemoteCommEvent", s("t\u00e9"), s("&lt;data&gt; &amp; \u2603"))),
    ("unknown-method", call("supervisor.nope")),
    ("INCORRECT_PARAMETERS", call("supervisor.getProcessInfo")),
    (
        "multicall",
        call(
            "system.multicall",
            "<array><data>"
            "<value><struct><member><name>methodName</name><value><string>supervisor.getState</string></value></member>"
            "<member><name>params</name><value><array><data></data></array></value></member></struct></value>"
            "<value><struct><member><name>methodName</name><value><string>supervisor.getProcessInfo</string></value></member>"
            "<member><name>params</name><value><array><data><value><string>nope</string></value></data></array></value></member></struct></value>"
            "</data></array>",
        ),
    ),
    ("bad-xml-400", "<methodCall><methodName>x</methodName"),
    ("removeProcessGroup-STILL_RUNNING", call("supervisor.removeProcessGroup", s("pool"))),
]


def main():
    py = os.path.join(VENV_BIN, "python")
    d = tempfile.mkdtemp(prefix="httpok-corpus-", dir="/tmp")
    os.mkdir(os.path.join(d, "events"))
    conf = os.path.join(d, "supervisord.conf")
    with open(os.path.join(d, "chatty.py"), "w") as f:
        f.write(CHATTY)
    with open(conf, "w", encoding="utf-8") as f:
        f.write(CONFIG.format(d=d, py=py, me=os.path.abspath(__file__)))
    supervisord = subprocess.Popen([os.path.join(VENV_BIN, "supervisord"), "-c", conf])
    sock = os.path.join(d, "s.sock")
    try:
        deadline = time.time() + 30
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(6)  # let the programs reach RUNNING/FATAL and chatty print
        replies = {name: rpc(sock, body) for name, body in CALLS}
        replies["wrong-password-401"] = rpc(sock, call("supervisor.getState"), auth=b"dXNlcjpub3Bl")
        replies["wrong-path"] = rpc(sock, call("supervisor.getState"), path=b"/other")
        # Group removal and re-adding send PROCESS_GROUP_* events.
        rpc(sock, call("supervisor.stopProcessGroup", s("pool"), b(1)))
        replies["removeProcessGroup"] = rpc(sock, call("supervisor.removeProcessGroup", s("pool")))
        replies["addProcessGroup"] = rpc(sock, call("supervisor.addProcessGroup", s("pool")))
        time.sleep(11)  # two TICK_5
        replies["shutdown"] = rpc(sock, call("supervisor.shutdown"))
        try:
            replies["getState-SHUTDOWN_STATE"] = rpc(sock, call("supervisor.getState"))
        except OSError:
            pass
        supervisord.wait(timeout=30)
    finally:
        if supervisord.poll() is None:
            supervisord.send_signal(signal.SIGTERM)
            supervisord.wait()
    save(d, replies)
    shutil.rmtree(d)


def save(d, replies):
    corpus = os.path.join(ROOT, "fuzz", "corpus")
    for target in ("listener", "xmlrpc"):
        os.makedirs(os.path.join(corpus, target), exist_ok=True)
        for old in os.listdir(os.path.join(corpus, target)):
            if old.startswith("captured-"):
                os.remove(os.path.join(corpus, target, old))
    for name, reply in replies.items():
        with open(os.path.join(corpus, "xmlrpc", "captured-" + name), "wb") as f:
            f.write(reply)
    seen = {}
    events = os.path.join(d, "events")
    for name in sorted(os.listdir(events)):
        if name == "stream":
            continue
        kind = name.split("-", 1)[1]
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] <= 2:  # two of each kind is plenty
            shutil.copy(os.path.join(events, name), os.path.join(corpus, "listener", "captured-" + name))
    with open(os.path.join(events, "stream"), "rb") as f:
        stream = f.read()
    with open(os.path.join(corpus, "listener", "captured-stream"), "wb") as f:
        f.write(stream[:16384])
    print("events:", sorted(seen.items()))
    print("replies:", sorted(replies))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--record"]:
        record(sys.argv[2])
    else:
        main()
