#!/usr/bin/env bash
# httpok's soak run (issue 16): thousands of rounds against hostile targets, printing
# httpok's threads, fds and RSS at the start, along the way and at the end. Not part of
# the test command: it takes about 20 minutes.
#
#   scripts/soak.sh                       # 5,000 rounds at -t 0.2
#   scripts/soak.sh --rounds 200          # a quick look
#   HTTPOK=target/debug/httpok scripts/soak.sh   # another build
#
# Builds httpok in release mode, makes .venv (supervisor 4.3.0), then runs
# scripts/soak.py (stdlib Python from .venv), which starts its own supervisord under
# /tmp and talks to loopback only. Exits 1 if threads, fds or zombies grew.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/venv.sh
if [ -z "${HTTPOK:-}" ]; then
    cargo build --release
    HTTPOK=target/release/httpok
fi
export PYTHONDONTWRITEBYTECODE=1
exec .venv/bin/python scripts/soak.py --httpok "$HTTPOK" "$@"
