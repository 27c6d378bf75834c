#!/usr/bin/env bash
# Generate a chain from separate organizations: locally one organization per node (CA, admin account, node),
# or with -l one organization and one package per host (FISCO BCOS's form), each package holding only its keys.
# Usage: scripts/build_chain.sh -n NODES -o DIR [-p P2P_PORT] [-r RPC_PORT] [-H HOST] [-g GATEWAY_PORT]
#        scripts/build_chain.sh -l "10.0.0.1:2,10.0.0.2:2" -o DIR [-p P2P_PORT] [-r RPC_PORT]
#   -g: also configure an evidence gateway for node0's organization (DIR/gateway; start_all.sh runs it)
set -euo pipefail
usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
case "${1:-}" in --help|-h) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
NODES=4 OUT="" P2P=30300 RPC=20200 HOST=127.0.0.1 HOSTS="" GATEWAY=""
while getopts "n:o:p:r:H:l:g:h" opt; do
  case "$opt" in
    n) NODES="$OPTARG" ;; o) OUT="$OPTARG" ;; p) P2P="$OPTARG" ;; r) RPC="$OPTARG" ;; H) HOST="$OPTARG" ;;
    l) HOSTS="$OPTARG" ;; g) GATEWAY="$OPTARG" ;;
    *) usage ;;
  esac
done
[ -n "$OUT" ] || { echo "error: -o DIR is required" >&2; usage; }
. "$(dirname "$0")/_venv.sh"
if [ -n "$HOSTS" ]; then
  [ -z "$GATEWAY" ] || { echo "error: -g configures a local gateway; it does not combine with -l" >&2; exit 2; }
  exec consortium chain new --hosts "$HOSTS" --dir "$OUT" --p2p-port "$P2P" --rpc-port "$RPC"
fi
consortium chain new --nodes "$NODES" --dir "$OUT" --host "$HOST" --p2p-port "$P2P" --rpc-port "$RPC"
if [ -n "$GATEWAY" ]; then
  consortium gateway init --dir "$OUT/gateway" --node-rpc "http://$HOST:$RPC" --key "$OUT/accounts/admin0.json" \
    --port "$GATEWAY" --host "$HOST"
fi
