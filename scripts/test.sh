#!/usr/bin/env bash
# Create .venv if missing, install hftctl with its test extras, run pytest; exit with pytest's status.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
# hftbacktest (the reference implementation) lets the cross-check tests run; they skip without it,
# so a platform without its wheels still runs the rest of the suite.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[bench]' \
    || echo "warning: hftbacktest not installed; its cross-check tests will be skipped" >&2
exec .venv/bin/python -m pytest "$@"
