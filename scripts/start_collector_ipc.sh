#!/usr/bin/env bash
# Record the market data a running connector NAME publishes (the same data its bots see).
#   scripts/start_collector_ipc.sh NAME OUTDIR SYMBOL [SYMBOL...]
#   e.g. scripts/start_collector_ipc.sh bf ./data btcusdt
# Extra options go in HFTCTL_COLLECT_OPTS, e.g. HFTCTL_COLLECT_OPTS="--compress zstd".
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 NAME OUTDIR SYMBOL [SYMBOL...]" >&2
    exit 2
fi
name=$1 outdir=$2
shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
hftctl=${HFTCTL:-$here/.venv/bin/hftctl}
[ -x "$hftctl" ] || hftctl=hftctl
# shellcheck disable=SC2086
exec "$hftctl" collect --ipc "$name" "$@" --out "$outdir" ${HFTCTL_COLLECT_OPTS:-}
