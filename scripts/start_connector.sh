#!/usr/bin/env bash
# Start a connector, as in the testnet guide:
#   scripts/start_connector.sh NAME EXCHANGE CONFIG
#   scripts/start_connector.sh bf binancefutures configs/binancefutures_testnet.toml
# Log level: HFTCTL_LOG=debug scripts/start_connector.sh ...
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 NAME EXCHANGE CONFIG [--venue testnet|demo|mainnet] [--allow-mainnet]" >&2
    exit 2
fi
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HFTCTL="${HFTCTL:-$ROOT/.venv/bin/hftctl}"
[ -x "$HFTCTL" ] || HFTCTL="hftctl"
exec "$HFTCTL" connector "$@"
