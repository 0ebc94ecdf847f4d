#!/usr/bin/env bash
# Soak run (not in CI): sim + connector + 5 bots + 2 collectors for MINUTES (default 10) with every
# fault switch cycling; prints RSS/fd slopes, missed fills, orphan orders, unequal books and
# unreadable recordings, and exits 1 unless all are zero/flat. See scripts/soak.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/soak.py "${1:-10}"
