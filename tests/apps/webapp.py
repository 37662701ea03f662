#!/usr/bin/env python3
"""Tiny HTTP app that supervisord runs as a program in httpok's end-to-end tests.

    webapp.py (--port N | --unix PATH) [--mode MODE]

MODE (what GET / does):
    ok               200, body "hello httpok OK"
    error            500
    nobody           200, body without the expected word ("hello")
    slowstart:SECS   not listening for SECS seconds after start, then ok
    hang             accepts connections but never answers
    slow:SECS        waits SECS seconds, then answers as ok
    nocontent        204, no body
    traceback        200, body "Traceback (most recent call last): ..."
    broken-once:PATH the first process started with it (the one that creates
                     PATH) is in mode error; every later one (PATH exists) is ok
    flap             error and ok in turn: 500 for the 1st request, 200 for the
                     2nd, and so on
    mode-file:PATH   reads the mode (one of the above but slowstart, broken-once
                     and mode-file) from PATH on each request; missing or empty
                     file => ok

Any path is served the same way. Each request is logged to stderr, and the pid
is printed to stderr at startup. SIGTERM exits cleanly with status 0.
Stdlib only.
"""
import argparse
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OK_BODY = b"hello httpok OK\n"
NOBODY_BODY = b"hello\n"
TRACEBACK_BODY = (
    b"<h1>Internal error</h1>\n<pre>Traceback (most recent call last):\n"
    b'  File "app.py", line 1, in <module>\nZeroDivisionError</pre>\n'
)


def log(msg):
    sys.stderr.write("webapp[%d]: %s\n" % (os.getpid(), msg))
    sys.stderr.flush()


def current_mode(mode):
    """Resolve mode-file:PATH to the mode written in PATH (default ok)."""
    if mode.startswith("mode-file:"):
        try:
            with open(mode[len("mode-file:"):]) as f:
                return f.read().strip() or "ok"
        except OSError:
            return "ok"
    if mode.startswith("slowstart:"):
        return "ok"  # by the time we serve, the slow start is over
    return mode


def broken_once(path):
    """error for the process that creates PATH, ok for every later one."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return "error"
    except FileExistsError:
        return "ok"


class Handler(BaseHTTPRequestHandler):
    server_version = "httpok-webapp/1"
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        mode = current_mode(self.server.mode)
        log("%s %s mode=%s" % (self.command, self.path, mode))
        if mode == "hang":
            threading.Event().wait()  # never answer; daemon thread dies with us
        if mode.startswith("slow:"):
            time.sleep(float(mode.split(":", 1)[1]))
            mode = "ok"
        if mode == "flap":
            with self.server.lock:
                self.server.requests += 1
                mode = "error" if self.server.requests % 2 else "ok"
        if mode == "error":
            self.reply(500, b"internal error\n")
        elif mode == "nobody":
            self.reply(200, NOBODY_BODY)
        elif mode == "nocontent":
            self.reply(204, b"")
        elif mode == "traceback":
            self.reply(200, TRACEBACK_BODY)
        else:
            if mode != "ok":
                log("unknown mode %r, serving ok" % mode)
            self.reply(200, OK_BODY)

    do_HEAD = do_GET

    def reply(self, code, body):
        self.send_response(code)
        if code != 204:  # a 204 has no body, so no Content-Type or -Length either
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass  # do_GET logs already, briefly


class TCPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class UnixServer(TCPServer):
    address_family = socket.AF_UNIX

    def server_bind(self):
        try:
            os.unlink(self.server_address)
        except FileNotFoundError:
            pass
        self.socket.bind(self.server_address)
        self.server_name, self.server_port = "localhost", 0

    def get_request(self):
        conn, _ = self.socket.accept()
        return conn, ("unix", 0)  # handlers expect a (host, port) client address


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int)
    where.add_argument("--unix")
    ap.add_argument("--mode", default="ok")
    args = ap.parse_args()

    log("pid %d starting, mode=%s" % (os.getpid(), args.mode))
    mode = args.mode
    if mode.startswith("broken-once:"):
        mode = broken_once(mode[len("broken-once:"):])
        log("broken-once: this process is in mode %s" % mode)

    def on_term(signum, frame):
        log("SIGTERM, exiting")
        if args.unix:
            try:
                os.unlink(args.unix)
            except OSError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)

    if args.mode.startswith("slowstart:"):
        secs = float(args.mode.split(":", 1)[1])
        log("slow start: not listening for %gs" % secs)
        time.sleep(secs)

    if args.unix:
        server = UnixServer(args.unix, Handler)
    else:
        server = TCPServer(("127.0.0.1", args.port), Handler)
    server.mode = mode
    server.requests = 0
    server.lock = threading.Lock()
    log("listening on %s" % (args.unix or "127.0.0.1:%d" % args.port))
    server.serve_forever()


if __name__ == "__main__":
    main()
