#!/usr/bin/env python3
"""Tiny HTTPS app for httpok's end-to-end tests of https:// checks.

    tlsapp.py --cert SERVER.pem --key SERVER.key --port N [--host 127.0.0.1]

GET (or HEAD) on any path answers 200 with the body "OK". The TLS handshake runs in
the request's thread, so a client that rejects the certificate (and hangs up) or never
speaks cannot block the others. Prints "listening on HOST:PORT" to stderr once ready.
SIGTERM exits with status 0. Stdlib only.
"""
import argparse
import os
import signal
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def log(msg):
    sys.stderr.write("tlsapp[%d]: %s\n" % (os.getpid(), msg))
    sys.stderr.flush()


class Handler(BaseHTTPRequestHandler):
    server_version = "httpok-tlsapp/1"
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        body = b"OK"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        log(fmt % args)


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def finish_request(self, request, client_address):
        # Runs in the request's own thread (ThreadingMixIn): handshake here, not in accept().
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log("handshake with %s failed: %s" % (client_address[0], e))
            return
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            request.close()  # the plain socket it wrapped is detached; close this one


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cert", required=True, help="server certificate chain (PEM)")
    ap.add_argument("--key", required=True, help="server private key (PEM)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server = TLSServer((args.host, args.port), Handler)
    server.context = context
    log("listening on %s:%d" % (args.host, args.port))
    server.serve_forever()


if __name__ == "__main__":
    main()
