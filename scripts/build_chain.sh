#!/usr/bin/env bash
# Generate a local chain from separate organizations (one per node: CA, admin account, node), genesis agreed from their descriptors.
# Usage: scripts/build_chain.sh -n NODES -o DIR [-p P2P_PORT] [-r RPC_PORT] [-H HOST]
set -euo pipefail
usage() { sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
case "${1:-}" in --help|-h) sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
NODES=4 OUT="" P2P=30300 RPC=20200 HOST=127.0.0.1
while getopts "n:o:p:r:H:h" opt; do
  case "$opt" in
    n) NODES="$OPTARG" ;; o) OUT="$OPTARG" ;; p) P2P="$OPTARG" ;; r) RPC="$OPTARG" ;; H) HOST="$OPTARG" ;;
    *) usage ;;
  esac
done
[ -n "$OUT" ] || { echo "error: -o DIR is required" >&2; usage; }
. "$(dirname "$0")/_venv.sh"
exec consortium chain new --nodes "$NODES" --dir "$OUT" --host "$HOST" --p2p-port "$P2P" --rpc-port "$RPC"
