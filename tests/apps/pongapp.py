#!/usr/bin/env python3
"""Tiny redis-like TCP app for httpok's end-to-end tests of tcp send/expect checks.

    pongapp.py --port N [--mode-file PATH]

Each line a client sends gets one answer: "+PONG\\r\\n" to "PING", "-ERR unknown
command\\r\\n" to anything else. When PATH holds "err", every line is answered
"-ERR LOADING the dataset is loading\\r\\n" instead (a missing or empty file is
normal). Nothing is written before the client speaks, as redis. Each exchange is
logged to stderr. SIGTERM exits with status 0. Stdlib only.
"""
import argparse
import os
import signal
import socketserver
import sys


def log(msg):
    sys.stderr.write("pongapp[%d]: %s\n" % (os.getpid(), msg))
    sys.stderr.flush()


def broken(mode_file):
    if not mode_file:
        return False
    try:
        with open(mode_file) as f:
            return f.read().strip() == "err"
    except OSError:
        return False


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            command = line.strip().decode("utf-8", "replace")
            if broken(self.server.mode_file):
                answer = b"-ERR LOADING the dataset is loading\r\n"
            elif command.upper() == "PING":
                answer = b"+PONG\r\n"
            else:
                answer = b"-ERR unknown command\r\n"
            log("%r -> %r" % (command, answer))
            self.wfile.write(answer)
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode-file")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))
    server = Server(("127.0.0.1", args.port), Handler)
    server.mode_file = args.mode_file
    log("listening on 127.0.0.1:%d" % args.port)
    server.serve_forever()


if __name__ == "__main__":
    main()
