#!/usr/bin/env bash
# Convert a recording (or a folder of them) to hftbacktest's .npz, as in the testnet guide:
#   scripts/convert_data.sh ./data/btcusdt_20241225_143022.gz ./data/btcusdt.npz
# Extra arguments go to `hftctl convert` (e.g. --book-ticker, --skip-bad, --quiet).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 IN OUT.npz [hftctl convert options]" >&2
    exit 2
fi
in=$1 out=$2
shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
if command -v hftctl >/dev/null 2>&1; then
    exec hftctl convert "$in" "$out" "$@"
elif [ -x "$here/.venv/bin/hftctl" ]; then
    exec "$here/.venv/bin/hftctl" convert "$in" "$out" "$@"
else
    exec python3 -m hftctl convert "$in" "$out" "$@"
fi
