#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine, set-up included: the Debian packages
# the tests run (installed when missing, as root), the virtualenvs with a real
# supervisord (.venv with supervisor 4.3.0; one cached virtualenv for each supervisor
# version the smoke runs under, and maturin's), then every unit, property and end-to-end
# test, then fuzzing.
#
#   scripts/test.sh            # everything
#   scripts/test.sh e2e_       # only tests whose name matches (passed to cargo test)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
fuzz="${HTTPOK_FUZZ:-1}"

# Debian packages, before anything is built: what a test runs, by the command it runs.
#   apache2, nginx  tests/examples.rs runs the apache2-behind-nginx example with them
#   rpm             tests/packaging.rs lists the built .rpm with it (dpkg-deb: the .deb)
#   openssl         tests/common/tls.rs makes the test certificates with it
#   python3-venv    python3 -m venv, for every virtualenv (Debian's python3 lacks it)
#   gcc, g++        crates that build C (ring); libFuzzer for the fuzzing step
missing=()
need() { # PACKAGE, when COMMAND... fails
    local package="$1"
    shift
    "$@" >/dev/null 2>&1 || missing+=("$package")
}
need apache2 test -x /usr/sbin/apache2
need nginx test -x /usr/sbin/nginx
need rpm command -v rpm
need dpkg command -v dpkg-deb
need openssl command -v openssl
need procps command -v kill
need util-linux command -v flock
need python3 command -v python3
need python3-venv python3 -c 'import venv, ensurepip'
need gcc command -v cc
if [ "$#" -eq 0 ] && [ "$fuzz" != 0 ]; then
    need g++ command -v c++
fi
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "test.sh: installing Debian packages: ${missing[*]}" >&2
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    else
        echo "test.sh: the tests need these Debian packages: ${missing[*]}; install them" \
            "(as root: apt-get update && apt-get install -y ${missing[*]}) and run again" >&2
        exit 1
    fi
fi

# The virtualenvs (scripts/venv.sh says where they live; each made once, seconds after
# that). supervisor 4.0.4 needs a Python 3.7: without one this stops here, saying what to
# install.
bash scripts/venv.sh
bash scripts/venv.sh --supervisors
bash scripts/venv.sh --maturin >/dev/null

# End-to-end tests spend their time waiting for supervisord's 5-second ticks, not
# on the CPU, so more of them can run at once than there are cores.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-8}"

# tests/packaging.rs builds the .deb and the .rpm with cargo-deb and cargo-generate-rpm:
# installed if missing (a few minutes, once per clone) into target/tools, like
# cargo-fuzz below, never into the user's global cargo bin. Unoptimized: that compiles
# them in a third of the time, and packaging a few MB still takes seconds.
# HTTPOK_TOOLS moves them elsewhere (.ci/run keeps them in a cache across clones).
tools="${HTTPOK_TOOLS:-$root/target/tools}"
export PATH="$tools/bin:$PATH"
for tool in cargo-deb cargo-generate-rpm; do
    if ! command -v "$tool" >/dev/null; then
        echo "test.sh: installing $tool into $tools (once per clone)" >&2
        CARGO_PROFILE_RELEASE_OPT_LEVEL=0 cargo install --locked --root "$tools" "$tool"
    fi
done

cargo test --no-fail-fast --all-targets "$@"

# Fuzzing. `cargo test` above already replays every file in fuzz/corpus/ through the
# fuzz harnesses (tests/fuzz_corpus.rs), on stable and without extra tools. Then each
# target fuzzes for 20000 runs on stable (-s none), installing cargo-fuzz if missing
# (a few minutes, once per clone, into target/tools; needs a C++ compiler for libFuzzer).
#   HTTPOK_FUZZ=0     never fuzz
#   HTTPOK_FUZZ=auto  fuzz only if cargo-fuzz is already installed
# Skipped when the run is filtered to some tests. Longer runs: docs/reliability.md.
# cargo-fuzz lives under the project (target/tools), never in the user's global cargo bin.
if [ "$#" -eq 0 ] && [ "$fuzz" != 0 ]; then
    if ! cargo fuzz --version >/dev/null 2>&1 && [ "$fuzz" = 1 ]; then
        echo "test.sh: installing cargo-fuzz into $tools (once per clone)" >&2
        cargo install --locked --root "$tools" cargo-fuzz
    fi
    if cargo fuzz --version >/dev/null 2>&1; then
        for target in listener xmlrpc config_file ticks; do
            # New inputs go to a scratch dir under fuzz/target; the checked-in seeds stay as they are.
            mkdir -p "fuzz/target/corpus/$target"
            log="fuzz/target/fuzz-$target.log"
            if ! cargo fuzz run -s none "$target" "fuzz/target/corpus/$target" "fuzz/corpus/$target" \
                -- -runs=20000 >"$log" 2>&1; then
                tail -n 40 "$log" >&2
                echo "test.sh: fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
                exit 1
            fi
            echo "test.sh: fuzz $target: $(grep '^Done' "$log")" >&2
        done
    else
        echo "test.sh: cargo-fuzz not installed; fuzz corpus replayed by cargo test only (unset HTTPOK_FUZZ to install it)" >&2
    fi
fi
