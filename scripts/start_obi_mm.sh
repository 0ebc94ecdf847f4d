#!/usr/bin/env bash
# Start the OBI market maker against a running connector (as in the testnet guide).
#   scripts/start_obi_mm.sh [--connector bf] [--symbol btcusdt] [--config FILE.toml] [--dry-run]
#   e.g. scripts/start_obi_mm.sh --connector bf --symbol btcusdt
#        scripts/start_obi_mm.sh --dry-run
#        scripts/start_obi_mm.sh --config ./obi_mm_config.toml
# Defaults: connector bf, symbol btcusdt, configs/obi_mm.toml. Any other hftctl obi-mm option
# (e.g. --tick-size, --lot-size, --backtest FILE.npz) is passed through. Stop with Ctrl-C: the bot
# cancels its orders before it exits. Log level: HFTCTL_LOG=debug.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
hftctl=${HFTCTL:-$here/.venv/bin/hftctl}
[ -x "$hftctl" ] || hftctl=hftctl
connector=bf symbol=btcusdt config=$here/configs/obi_mm.toml
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --connector|--symbol|--config)
            if [ $# -lt 2 ]; then echo "error: $1 needs a value" >&2; exit 2; fi
            case "$1" in
                --connector) connector=$2 ;;
                --symbol) symbol=$2 ;;
                --config) config=$2 ;;
            esac
            shift 2 ;;
        -h|--help)
            sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
            exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done
export HFTCTL_LOG=${HFTCTL_LOG:-info}
exec "$hftctl" obi-mm --connector "$connector" --symbol "$symbol" --config "$config" ${args[@]+"${args[@]}"}
