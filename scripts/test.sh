#!/usr/bin/env bash
# The whole test suite on a fresh machine: the project-local virtualenv with a real
# supervisord (supervisor 4.3.0), then every unit, property and end-to-end test.
#
#   scripts/test.sh            # everything
#   scripts/test.sh e2e_       # only tests whose name matches (passed to cargo test)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/venv.sh

# End-to-end tests spend their time waiting for supervisord's 5-second ticks, not
# on the CPU, so more of them can run at once than there are cores.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-8}"
cargo test --all-targets "$@"
