#!/usr/bin/env bash
# The Python virtualenvs the tests run supervisord (and build the wheel) from.
#
#   scripts/venv.sh                      # .venv with supervisor==4.3.0
#   scripts/venv.sh superlance==2.0.0    # ... plus extra packages
#   EXTRA_PIP_PACKAGES="a==1 b==2" scripts/venv.sh
#   scripts/venv.sh --supervisor 4.0.4   # a cached virtualenv with supervisor==4.0.4 alone
#   scripts/venv.sh --supervisors        # one for each version in SUPERVISOR_VERSIONS below
#   scripts/venv.sh --maturin            # a cached virtualenv with maturin (the wheel's builder)
#
# .venv is the project's own (the demo, the benchmark and most tests use it). The cached
# ones live in ${HTTPOK_TOOLS:-target/tools}/venvs/NAME, so .ci/run's HTTPOK_TOOLS (in
# ~/.cache) shares them across clones; --supervisor and --maturin print the path.
#
# Idempotent: a virtualenv is made only when missing or unfinished (an interrupted run
# leaves no .httpok-ready stamp, and is made again). Two runs at once (two clones
# sharing the cache) take turns on a lock. Packages come from whatever index pip is set
# up for.
#
# supervisor 4.0.x imports cgi.escape, which Python 3.8 removed: its virtualenv gets a
# Python 3.7 (or 3.6), found as HTTPOK_PYTHON37, python3.7 or python3.6 on PATH, or
# under pyenv's versions/. None found is an error naming what to install; nothing is
# skipped. Every later supervisor runs on python3.
set -euo pipefail

# The supervisor versions the end-to-end smoke runs under (tests/supervisor_versions.rs
# checks that it tests exactly these).
SUPERVISOR_VERSIONS="4.0.4 4.1.0 4.2.5 4.3.0"
MATURIN_VERSION="1.16.0"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${HTTPOK_TOOLS:-$root/target/tools}/venvs"

pip_install() {
    local py="$1"
    shift
    "$py" -m pip install --quiet --disable-pip-version-check "$@"
}

# A Python that supervisor 4.0.x runs on (3.4 to 3.7), on stdout; 1 if there is none.
old_python() {
    local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
    local candidates=()
    [ -n "${HTTPOK_PYTHON37:-}" ] && candidates+=("$HTTPOK_PYTHON37")
    candidates+=(python3.7)
    # pyenv's own builds, newest patch release first (its shims on PATH answer only for
    # the versions pyenv has selected, so they are looked up directly).
    local found
    found="$(ls -d "$pyenv_root"/versions/3.7.*/bin/python3.7 2>/dev/null | sort -rV || true)"
    [ -n "$found" ] && mapfile -t -O "${#candidates[@]}" candidates <<<"$found"
    candidates+=(python3.6)
    found="$(ls -d "$pyenv_root"/versions/3.6.*/bin/python3.6 2>/dev/null | sort -rV || true)"
    [ -n "$found" ] && mapfile -t -O "${#candidates[@]}" candidates <<<"$found"
    local py
    for py in "${candidates[@]}"; do
        if "$py" -c 'import sys, venv; sys.exit(not ((3, 4) <= sys.version_info < (3, 8)))' \
            >/dev/null 2>&1; then
            command -v "$py"
            return 0
        fi
    done
    return 1
}

# The Python a supervisor version runs on.
python_for() {
    case "$1" in
    4.0.*)
        if ! old_python; then
            echo "venv.sh: supervisor $1 needs Python 3.7 or older (it imports cgi.escape," \
                "which Python 3.8 removed) and none was found (HTTPOK_PYTHON37, python3.7 or" \
                "python3.6 on PATH, ${PYENV_ROOT:-$HOME/.pyenv}/versions/3.7.*): install one" \
                "(pyenv install 3.7.16) or set HTTPOK_PYTHON37=/path/to/python3.7" >&2
            return 1
        fi
        ;;
    *) command -v python3 ;;
    esac
}

# Makes the cached virtualenv NAME with PYTHON and the pip specs that follow, unless it
# is there and finished; prints its path.
cached_venv() {
    local name="$1" python="$2"
    shift 2
    mkdir -p "$cache"
    cache="$(cd "$cache" && pwd)"
    local venv="$cache/$name"
    # One maker at a time per virtualenv: clones sharing the cache may run together.
    exec 9>"$cache/.$name.lock"
    flock 9
    if [ ! -f "$venv/.httpok-ready" ] || ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
        echo "venv.sh: creating $venv ($*, $("$python" --version 2>&1))" >&2
        rm -rf "$venv"
        "$python" -m venv "$venv"
        pip_install "$venv/bin/python" "$@"
        printf '%s\n' "$*" >"$venv/.httpok-ready"
    fi
    exec 9>&-
    printf '%s\n' "$venv"
}

supervisor_venv() {
    local version="$1" python
    if ! [[ "$version" =~ ^[0-9]+(\.[0-9]+)*$ ]]; then
        echo "venv.sh: not a supervisor version: $version" >&2
        return 2
    fi
    python="$(python_for "$version")"
    cached_venv "supervisor-$version" "$python" "supervisor==$version"
}

case "${1:-}" in
--supervisor)
    [ "$#" -eq 2 ] || {
        echo "usage: scripts/venv.sh --supervisor VERSION" >&2
        exit 2
    }
    supervisor_venv "$2"
    exit 0
    ;;
--supervisors)
    for version in $SUPERVISOR_VERSIONS; do
        supervisor_venv "$version" >/dev/null
    done
    exit 0
    ;;
--maturin)
    cached_venv "maturin-$MATURIN_VERSION" "$(command -v python3)" "maturin==$MATURIN_VERSION"
    exit 0
    ;;
esac

venv="$root/.venv"
py="$venv/bin/python"

if [ ! -x "$py" ]; then
    echo "venv.sh: creating $venv" >&2
    python3 -m venv "$venv"
fi

if [ ! -x "$venv/bin/supervisord" ]; then
    echo "venv.sh: installing supervisor==4.3.0" >&2
    pip_install "$py" 'supervisor==4.3.0'
fi

# Extra packages: arguments plus the whitespace-separated EXTRA_PIP_PACKAGES.
extras=("$@")
if [ -n "${EXTRA_PIP_PACKAGES:-}" ]; then
    read -r -a env_extras <<<"$EXTRA_PIP_PACKAGES"
    extras+=("${env_extras[@]}")
fi

for spec in ${extras[@]+"${extras[@]}"}; do
    # Module name: the requirement without version/extras, lower case, '-' -> '_'.
    name="${spec%%[<>=!~;[ ]*}"
    module="$(printf '%s' "$name" | tr 'A-Z-' 'a-z_')"
    if "$py" -c "import $module" >/dev/null 2>&1; then
        continue
    fi
    echo "venv.sh: installing $spec" >&2
    pip_install "$py" "$spec"
done
