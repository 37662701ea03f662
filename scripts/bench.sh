#!/usr/bin/env bash
# httpok against superlance's httpok, side by side, on this machine (issue 4).
#
#   scripts/bench.sh            # full run (~5 min): prints the table and writes it
#                               # into docs/benchmarks.md
#   scripts/bench.sh --quick    # smoke run with fewer rounds; prints only
#   scripts/bench.sh --prefork  # only the pre-forking case (~10 min): a frozen parent
#                               # and 4 workers, httpok (--interval 1 --stop-grace 1,
#                               # and -t 2), superlance and monit; into docs/benchmarks.md
#
# Installs superlance 2.0.0 into .venv beside supervisor 4.3.0, builds httpok in
# release mode, then runs bench/bench.py (stdlib Python from .venv), which starts its
# own supervisord under /tmp and talks to loopback only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/venv.sh superlance==2.0.0
cargo build --release

# No bench/__pycache__ in the checkout.
export PYTHONDONTWRITEBYTECODE=1

# The scale run holds ~1100 probe connections open at once (httpok uses at most half
# its soft limit), plus the app's side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
    echo "bench.sh: warning: only $(ulimit -n) file descriptors; the 1000-check run may fail" >&2
fi

# The pre-forking case (bench/prefork.py, issue 18): monit from Debian's package when
# installed, else its row says it was not run.
prefork() {
    .venv/bin/python bench/prefork.py --httpok target/release/httpok \
        --superlance .venv/bin/httpok "$@"
}
if [ "${1:-}" = --prefork ]; then
    prefork --out docs/benchmarks.md
    exit
fi

if [ "${1:-}" = --quick ]; then
    exec .venv/bin/python bench/bench.py --httpok target/release/httpok \
        --superlance .venv/bin/httpok --quick
fi
.venv/bin/python bench/bench.py --httpok target/release/httpok \
    --superlance .venv/bin/httpok --out docs/benchmarks.md --command "scripts/bench.sh"
prefork --out docs/benchmarks.md
