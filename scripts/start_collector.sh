#!/usr/bin/env bash
# Record an exchange's public market data directly (from mainnet, the real market, unless
# HFTCTL_COLLECT_OPTS says --venue testnet or names URLs).
#   scripts/start_collector.sh EXCHANGE OUTDIR SYMBOL [SYMBOL...]
#   e.g. scripts/start_collector.sh binancefutures ./data btcusdt ethusdt
# Extra options go in HFTCTL_COLLECT_OPTS, e.g. HFTCTL_COLLECT_OPTS="--config configs/local_sim.toml".
# Stop with Ctrl-C (files are closed cleanly).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 EXCHANGE OUTDIR SYMBOL [SYMBOL...]" >&2
    exit 2
fi
exchange=$1 outdir=$2
shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
hftctl=${HFTCTL:-$here/.venv/bin/hftctl}
[ -x "$hftctl" ] || hftctl=hftctl
# shellcheck disable=SC2086  # HFTCTL_COLLECT_OPTS is a list of words on purpose
exec "$hftctl" collect "$exchange" "$@" --out "$outdir" ${HFTCTL_COLLECT_OPTS:-}
