#!/usr/bin/env bash
# Create the project-local virtualenv used by the end-to-end tests.
#
#   scripts/venv.sh                      # .venv with supervisor==4.3.0
#   scripts/venv.sh superlance==2.0.0    # ... plus extra packages
#   EXTRA_PIP_PACKAGES="a==1 b==2" scripts/venv.sh
#
# Idempotent: creates .venv only if missing, installs supervisor only if
# .venv/bin/supervisord is missing, and installs an extra package only if it
# is not importable yet. Packages come from whatever index pip is set up for.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
py="$venv/bin/python"

if [ ! -x "$py" ]; then
    echo "venv.sh: creating $venv" >&2
    python3 -m venv "$venv"
fi

pip_install() {
    "$py" -m pip install --quiet --disable-pip-version-check "$@"
}

if [ ! -x "$venv/bin/supervisord" ]; then
    echo "venv.sh: installing supervisor==4.3.0" >&2
    pip_install 'supervisor==4.3.0'
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
    pip_install "$spec"
done
