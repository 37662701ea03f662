"""httpok's soak run (issue 16): thousands of rounds against hostile targets, with
httpok's threads, fds and resident memory read from /proc along the way.

    soak.py --httpok PATH [--rounds N] [--timeout SECS] [--samples K]

Run by scripts/soak.sh (which builds httpok and the .venv). Stdlib only. Starts, in a
temp dir under /tmp, a real supervisord (from this Python's venv) with one program
`web`, the hostile peers (threads of this process), and httpok as an event listener
whose stdin and stdout are ours: this script writes each TICK_5 and reads its RESULT,
so rounds run back to back; supervisord answers httpok's XML-RPC at
SUPERVISOR_SERVER_URL. The hostile targets (each a [[check]] of httpok's config):

  * http+unix:// to a unix socket whose accept backlog is full (never accepts);
  * http:// and tcp:// (send/expect) to a TCP peer that accepts and never answers;
  * http:// to a server that sends one byte a second;
  * exec: a command that ignores SIGTERM and forks a child that does too;
  * the same dribbling URL bound to program `web` (so httpok restarts it), with
    --on-change and --on-restart hooks that ignore SIGTERM and never exit.

Prints one line per sample (round, seconds, threads, fds, RSS, zombie children, hostile
processes alive) and a summary; exits 1 if threads, fds or zombies grew or a round was
not answered.
"""
import argparse
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

STUBBORN = """#!/bin/sh
# Ignores SIGTERM, forks a child that does too, never exits.
trap '' TERM
(while :; do sleep 1; done) &
while :; do sleep 1; done
"""


def full_backlog_socket(path):
    """A unix socket listening with the smallest backlog, filled, never accepting."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(0)
    queued = []
    while True:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.setblocking(False)
        try:
            client.connect(path)
        except BlockingIOError:
            client.close()
            break
        queued.append(client)
    return listener, queued


def silent_peer():
    """Accepts every connection and never answers; closes what the client closes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)

    def serve():
        while True:
            for key, _ in sel.select():
                if key.fileobj is listener:
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ)
                    continue
                try:
                    data = key.fileobj.recv(4096)
                except (BlockingIOError, ConnectionError):
                    data = b"" if not isinstance(sys.exc_info()[1], BlockingIOError) else None
                if data == b"":
                    sel.unregister(key.fileobj)
                    key.fileobj.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def dribbler():
    """Reads the request, then sends a status line one byte a second until the client goes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)

    def one(conn):
        with conn:
            conn.settimeout(1.0)
            try:
                conn.recv(4096)
            except OSError:
                pass
            text = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100
            for i in range(len(text)):
                try:
                    conn.sendall(text[i : i + 1])
                except OSError:
                    return
                time.sleep(1.0)

    def serve():
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=one, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def holdings(pid):
    """(threads, fds, RSS in KiB) of pid, from /proc."""
    threads = len(os.listdir("/proc/%d/task" % pid))
    fds = len(os.listdir("/proc/%d/fd" % pid))
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return threads, fds, rss


def children_states(parent):
    """States of every process whose parent is `parent` (Z = zombie)."""
    states = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[1] == str(parent):
            states.append(fields[0])
    return states


def with_marker(marker):
    """Pids whose command line has `marker` as an argument."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if marker.encode() in args:
            pids.append(int(entry))
    return pids


class Listener:
    """httpok on our pipes: we are its supervisord's event side."""

    def __init__(self, argv, env, stderr):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr, env=env)
        self.serial = 0
        self.when = int(time.time())
        self.expect(b"READY\n", 30)

    def expect(self, wanted, timeout):
        got = b""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while len(got) < len(wanted):
            left = deadline - time.monotonic()
            if left <= 0 or not selectors_wait(fd, left):
                raise SystemExit("no %r from httpok within %ss (got %r)" % (wanted, timeout, got))
            chunk = os.read(fd, len(wanted) - len(got))
            if not chunk:
                raise SystemExit("httpok closed its stdout (got %r)" % got)
            got += chunk
        if got != wanted:
            raise SystemExit("httpok wrote %r, expected %r" % (got, wanted))

    def tick(self, timeout):
        self.serial += 1
        self.when += 5  # as supervisord's: 5 s after the last, however soon it comes
        payload = b"when:%d" % self.when
        head = ("ver:3.0 server:supervisor serial:%d pool:httpok poolserial:%d "
                "eventname:TICK_5 len:%d\n" % (self.serial, self.serial, len(payload)))
        self.proc.stdin.write(head.encode() + payload)
        self.proc.stdin.flush()
        self.expect(b"RESULT 2\nOKREADY\n", timeout)


def selectors_wait(fd, timeout):
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    ready = sel.select(timeout)
    sel.close()
    return bool(ready)


def supervisord(tmp, web_port):
    venv_bin = os.path.dirname(sys.executable)
    conf = os.path.join(tmp, "supervisord.conf")
    sock = os.path.join(tmp, "supervisor.sock")
    webapp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "apps",
                          "webapp.py")
    with open(conf, "w") as f:
        f.write(
            "[unix_http_server]\nfile=%(sock)s\n\n"
            "[supervisord]\nlogfile=%(tmp)s/supervisord.log\npidfile=%(tmp)s/supervisord.pid\n"
            "nodaemon=true\nloglevel=info\n\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
            "[supervisorctl]\nserverurl=unix://%(sock)s\n\n"
            "[program:web]\ncommand=%(py)s %(webapp)s --port %(port)d --mode ok\n"
            "startsecs=1\nstopwaitsecs=2\nstdout_logfile=%(tmp)s/web.out.log\n"
            "stderr_logfile=%(tmp)s/web.err.log\n"
            % {"sock": sock, "tmp": tmp, "py": sys.executable, "webapp": webapp,
               "port": web_port})
    proc = subprocess.Popen([os.path.join(venv_bin, "supervisord"), "-c", conf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        out = subprocess.run([os.path.join(venv_bin, "supervisorctl"), "-c", conf, "status", "web"],
                             capture_output=True, text=True)
        if "RUNNING" in out.stdout:
            return proc, "unix://" + sock
        if time.monotonic() > deadline:
            raise SystemExit("supervisord did not run web: %s" % out.stdout)
        time.sleep(0.5)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--httpok", required=True)
    ap.add_argument("--rounds", type=int, default=5000)
    ap.add_argument("--timeout", default="0.2")
    ap.add_argument("--samples", type=int, default=10)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="httpok-soak-")
    marker = "soak-marker-%d" % os.getpid()
    full_path = os.path.join(tmp, "app.sock")
    _full = full_backlog_socket(full_path)
    silent = silent_peer()
    dribble = dribbler()
    stubborn = os.path.join(tmp, "stubborn.sh")
    with open(stubborn, "w") as f:
        f.write(STUBBORN)
    os.chmod(stubborn, 0o755)
    sup, server_url = supervisord(tmp, free_port())

    unix_url = "http+unix://%s/health" % full_path.replace("/", "%2F")
    config = os.path.join(tmp, "checks.toml")
    with open(config, "w") as f:
        f.write(
            'timeout = %s\n\n'
            '[[check]]\nurl = "%s"\n\n'
            '[[check]]\nurl = "http://127.0.0.1:%d/"\n\n'
            '[[check]]\nurl = "tcp://127.0.0.1:%d"\nsend = "PING\\r\\n"\nexpect = \'^\\+PONG\'\n\n'
            '[[check]]\nurl = "http://127.0.0.1:%d/"\n\n'
            '[[check]]\nexec = ["%s", "%s"]\n\n'
            '[[check]]\nprogram = "web"\nurl = "http://127.0.0.1:%d/web"\n'
            % (args.timeout, unix_url, silent, silent, dribble, stubborn, marker, dribble))
    argv = [args.httpok, "--config", config, "--max-restarts", "1", "--restart-window", "300",
            "--on-change", "%s %s" % (stubborn, marker),
            "--on-restart", "%s %s" % (stubborn, marker)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISOR_")}
    env["SUPERVISOR_SERVER_URL"] = server_url
    env.pop("RUST_LOG", None)
    log_path = os.path.join(tmp, "httpok.err.log")
    log = open(log_path, "wb")
    print("soak: %d rounds, -t %s, dir %s" % (args.rounds, args.timeout, tmp), flush=True)
    print("soak: httpok %s" % " ".join(argv), flush=True)
    try:
        run(args, argv, env, log, log_path, marker, unix_url, silent, dribble, stubborn)
    finally:
        # Whatever happened, supervisord (and its web) stops with us.
        if sup.poll() is None:
            sup.send_signal(signal.SIGTERM)
            sup.wait(30)


def run(args, argv, env, log, log_path, marker, unix_url, silent, dribble, stubborn):
    """The rounds, the samples and the summary; exits 1 if anything grew."""
    httpok = Listener(argv, env, log)
    pid = httpok.proc.pid

    every = max(1, args.rounds // args.samples)
    marks = sorted(set([0, 1, 10] + list(range(every, args.rounds + 1, every)) + [args.rounds]))
    rows = []
    started = time.monotonic()
    slowest = 0.0

    def sample(done):
        threads, fds, rss = holdings(pid)
        states = children_states(pid)
        zombies = states.count("Z")
        hostile = len(with_marker(marker))
        rows.append((done, time.monotonic() - started, threads, fds, rss, zombies, hostile))
        print("%6d rounds  %7.1f s  threads %3d  fds %3d  RSS %6d KiB  zombies %d  "
              "hostile processes alive %d" % rows[-1], flush=True)

    sample(0)
    try:
        for done in range(1, args.rounds + 1):
            t0 = time.monotonic()
            httpok.tick(60)
            slowest = max(slowest, time.monotonic() - t0)
            if done in marks:
                sample(done)
    except BaseException:
        httpok.proc.kill()
        raise
    elapsed = time.monotonic() - started

    httpok.proc.stdin.close()
    try:
        code = httpok.proc.wait(90)
    except subprocess.TimeoutExpired:
        httpok.proc.kill()
        code = "killed"
    log.close()

    text = open(log_path, errors="replace").read()
    warn = {name: sum(1 for l in text.splitlines() if " WARN " in l and url in l)
            for name, url in [("unix backlog", unix_url),
                              ("silent http", "http://127.0.0.1:%d/" % silent),
                              ("silent tcp", "tcp://127.0.0.1:%d" % silent),
                              ("dribbler", "http://127.0.0.1:%d/:" % dribble),
                              ("exec", "exec:%s" % stubborn)]}
    hooks = sum(1 for l in text.splitlines() if "killed" in l and stubborn in l)
    base = rows[2]  # after 10 rounds: what is made once is made
    end = rows[-1]
    print()
    print("soak: %d rounds in %.0f s (%.3f s a round, slowest %.2f s); httpok exited %s"
          % (args.rounds, elapsed, elapsed / args.rounds, slowest, code))
    print("soak: WARN lines per hostile check: %s" % ", ".join("%s %d" % kv for kv in warn.items()))
    print("soak: hook runs killed at their timeout (logged): %d" % hooks)
    print("soak: after 10 rounds threads %d fds %d RSS %d KiB; at the end threads %d fds %d "
          "RSS %d KiB" % (base[2], base[3], base[4], end[2], end[3], end[4]))
    print("soak: log %s" % log_path)
    grew = end[2] > base[2] + 2 or end[3] > base[3] + 2 or end[5] > 0
    if grew:
        print("soak: FAILED: threads, fds or zombies grew")
        sys.exit(1)


if __name__ == "__main__":
    main()
