#!/usr/bin/env python3
"""A pre-forking HTTP app, as apache2's prefork or gunicorn run: the parent binds
--port and forks --workers workers that accept on the shared socket and answer every
request with 200 "hello httpok OK". The parent only waits. SIGTERM to the parent
stops its workers and exits; a worker exits on SIGTERM. Frozen with SIGSTOP (the whole
process group), nobody answers a SIGTERM: only SIGKILL ends it. Stdlib only, so any
python3 runs it (also as a user who cannot read the project's virtualenv).

    prefork.py --port N [--workers 4]
"""
import argparse
import os
import signal
import socket
import sys

BODY = b"hello httpok OK\n"


def serve(sock):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        conn, _ = sock.accept()
        try:
            conn.settimeout(5)
            conn.recv(4096)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY)
        except OSError:
            pass
        finally:
            conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(64)
    workers = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            serve(sock)
            os._exit(0)
        workers.append(pid)

    def stop(_sig, _frame):
        for pid in workers:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print("prefork parent %d, workers %s" % (os.getpid(), workers), file=sys.stderr, flush=True)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            signal.pause()


if __name__ == "__main__":
    main()
