#!/usr/bin/env bash
# The whole hftctl stack offline, in one command: creates .venv if missing, installs hftctl into
# it, then runs `hftctl demo` (sim + connector + collector --ipc + grid market maker for 60 s,
# then a clean stop, hftctl convert and a summary). Extra arguments go to `hftctl demo`,
# e.g. scripts/demo.sh --seconds 20, or --replay FILE.gz to replay a recording.
# Needs nothing on stdin and no terminal (CI=true works); output lands in ./hftctl-demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then      # the first Python >= 3.11 on PATH
    for c in python3 python3.13 python3.12 python3.11; do
        if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            PYTHON=$c; break
        fi
    done
fi
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $("$PY" --version 2>&1)"
    "$PY" -m venv .venv
fi
if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "error: .venv uses Python $(.venv/bin/python -c 'import platform; print(platform.python_version())'); hftctl needs 3.11 or newer (set PYTHON=python3.11 and remove .venv)" >&2
    exit 1
fi
echo "installing hftctl into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e . </dev/null
exec .venv/bin/python -m hftctl demo "$@" </dev/null
