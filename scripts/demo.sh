#!/usr/bin/env bash
# End to end: a 4-node chain, an evidence file notarized and co-signed, an arbitration case opened,
# the evidence attached, a ruling, a proof written, a folder notarized through the evidence gateway,
# the chain stopped, the proofs verified offline, and a one-byte change to the file caught. Nodes are stopped on exit, even when a step fails.
# Usage: scripts/demo.sh [DIR]   (default ./demo-chain)
# DIR must not exist yet, or be a folder an earlier demo.sh run created (it holds a .demo-chain
# marker): only then is it deleted and made afresh. Any other folder is left alone.
set -euo pipefail
usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  -*) echo "error: unknown option $1" >&2; usage >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "error: expected at most one argument (DIR), got $#" >&2; usage >&2; exit 2; }
SCRIPTS="$(cd "$(dirname "$0")" && pwd)"
DIR="${1:-./demo-chain}"
MARKER=".demo-chain"
if [ -e "$DIR" ] || [ -L "$DIR" ]; then
  if [ ! -d "$DIR" ] || [ -L "$DIR" ]; then
    echo "error: $DIR exists and is not a folder made by demo.sh; give a new folder name" >&2; exit 2
  fi
  if [ ! -f "$DIR/$MARKER" ]; then
    echo "error: $DIR exists and was not created by demo.sh (no $MARKER marker in it); it is left untouched." >&2
    echo "       give a folder that does not exist yet, e.g. scripts/demo.sh ./my-demo" >&2
    exit 2
  fi
fi
. "$SCRIPTS/_venv.sh"
NODES=4
START=$SECONDS

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { echo "demo FAILED: $*" >&2; exit 1; }

free_ports() {  # a base port B with B .. B+$1-1 all free on 127.0.0.1 (p2p ports, then rpc ports)
  python - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(500):
    base = random.randint(20000, 60000 - n)
    held = []
    try:
        for port in range(base, base + n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)
            s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        for s in held:
            s.close()
    print(base)
    sys.exit(0)
sys.exit("no free port range found")
PY
}

cli() { consortium "$@"; }

# --- 1. the chain --------------------------------------------------------------------------------
step "building a $NODES-node chain in $DIR"
if [ -d "$DIR" ]; then
  "$SCRIPTS/stop_all.sh" "$DIR" >/dev/null 2>&1 || true  # an earlier run's nodes, if it was interrupted
  echo "removing $DIR (made by an earlier demo.sh run)"
  rm -rf -- "$DIR"
fi
mkdir -p -- "$DIR"
echo "made by scripts/demo.sh; the next demo.sh run with this folder deletes it" >"$DIR/$MARKER"
BASE="$(free_ports $((2 * NODES + 1)))"
P2P=$BASE RPC=$((BASE + NODES)) GW=$((BASE + 2 * NODES))
"$SCRIPTS/build_chain.sh" -n "$NODES" -o "$DIR" -p "$P2P" -r "$RPC" -g "$GW" >/dev/null
echo "p2p ports $P2P-$((P2P + NODES - 1)), rpc ports $RPC-$((RPC + NODES - 1)), evidence gateway port $GW"

stop_chain() { "$SCRIPTS/stop_all.sh" "$DIR" >/dev/null 2>&1 || true; }
trap stop_chain EXIT
trap 'exit 130' INT TERM

step "starting the nodes and node0's organization's evidence gateway"
"$SCRIPTS/start_all.sh" "$DIR" 40
export CONSORTIUM_RPC="http://127.0.0.1:$RPC/"
GENESIS="$DIR/node0/genesis.toml"
ACC="$DIR/accounts"
WORK="$DIR/evidence"
mkdir -p "$WORK"

# --- 2. the parties --------------------------------------------------------------------------------
step "creating accounts: Alice (claimant), Bob (respondent), Carol (arbitrator)"
address() { cli account new --out "$ACC/$1.json" --json | python -c 'import json, sys; print(json.load(sys.stdin)["address"])'; }
ALICE="$(address alice)"; BOB="$(address bob)"; CAROL="$(address carol)"
echo "alice $ALICE"; echo "bob   $BOB"; echo "carol $CAROL"
CASE="CASE-2026-0042"
EVIDENCE="$WORK/delivery-chat-log.txt"
cat >"$EVIDENCE" <<'EOF'
2026-11-02 09:14 alice: the 40 chairs arrived, 6 have broken legs (photos attached)
2026-11-02 09:20 bob: sorry about that. I will refund the 6 chairs within 7 days.
2026-11-09 10:02 alice: no refund yet.
EOF

# --- 3. notarize, co-sign --------------------------------------------------------------------------
step "Alice notarizes the chat log privately (a salted commitment goes on chain), naming Bob as co-signer"
cli evidence notarize "$EVIDENCE" --case "$CASE" --note "delivery chat, exported from the shop's app" \
    --signer "$BOB" --key "$ACC/alice.json" --out "$WORK/notarized.proof.json"
HASH="$(cli evidence hash "$EVIDENCE" --json | python -c 'import json, sys; print(json.load(sys.stdin)["sha256"])')"

step "Bob co-signs it (Alice sent him the proof file; the key on chain is in it)"
cli evidence sign "$WORK/notarized.proof.json" --key "$ACC/bob.json"

# --- 4. the case -----------------------------------------------------------------------------------
step "the governance committee registers Carol as an arbitrator (a proposal; this chain's committee is one member)"
cli evidence register-arbitrator "$CAROL" --key "$ACC/admin0.json"

step "Alice opens the case, with Carol as arbitrator, and attaches the evidence"
cli case open "$CASE" --party "$ALICE" --party "$BOB" --arbitrator "$CAROL" --key "$ACC/alice.json"
cli case attach "$CASE" "$WORK/notarized.proof.json" --key "$ACC/alice.json"

step "Carol rules"
RULING="$WORK/ruling.txt"
echo "Case $CASE: Bob refunds 6 chairs (EUR 270) to Alice within 14 days." >"$RULING"
cli case rule "$CASE" --ruling "$RULING" --summary "Bob refunds 6 chairs (EUR 270) within 14 days" --key "$ACC/carol.json"
cli case show "$CASE"

# --- 5. the proof, then no chain at all ------------------------------------------------------------
PROOF="$WORK/delivery-chat-log.proof.json"
step "writing the proof bundle (after the co-signature)"
cli evidence proof "$EVIDENCE" --from "$WORK/notarized.proof.json" --out "$PROOF"

# --- 5b. bank scale: many items, one transaction per batch ----------------------------------------
STATEMENTS="$WORK/statements"
step "the bank notarizes 200 account statements through its evidence gateway (Merkle batches, one transaction each)"
mkdir -p "$STATEMENTS"
python - "$STATEMENTS" <<'PY'
import sys
for i in range(200):
    with open(f"{sys.argv[1]}/statement-{i:03}.txt", "w") as f:
        f.write(f"account 6222-0202-{i:04}: closing balance {1000 + 37 * i}.00 CNY on 2026-11-30\n")
PY
cli evidence notarize-batch "$STATEMENTS" --gateway "http://127.0.0.1:$GW" --case "$CASE" \
    --manifest "$WORK/statements.manifest.json" --wait 60
ITEM="$STATEMENTS/statement-042.txt"

CASE_PROOF="$WORK/$CASE.proof.json"
step "writing the case proof: opening, parties, evidence, Carol's registration by the committee, the ruling"
cli case proof "$CASE" --evidence-proof "$PROOF" --out "$CASE_PROOF"

step "stopping the chain and the gateway: from here on, nothing is running"
"$SCRIPTS/stop_all.sh" "$DIR"
trap - EXIT

step "verifying offline, trusting only the genesis file"
cli evidence verify "$EVIDENCE" --proof "$PROOF" --genesis "$GENESIS" || fail "the honest proof did not verify"

step "verifying one statement's own proof offline (its path to the batch root, then the batch like any notarization)"
cli evidence verify "$ITEM" --proof "$ITEM.proof.json" --genesis "$GENESIS" || fail "the item proof did not verify"

step "changing one byte of the file and verifying again"
TAMPERED="$WORK/delivery-chat-log.tampered.txt"
python - "$EVIDENCE" "$TAMPERED" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
i = data.index(b"6 chairs")  # "6" -> "5": the respondent now promised to refund fewer chairs
data[i] = ord("5")
open(sys.argv[2], "wb").write(bytes(data))
PY
diff "$EVIDENCE" "$TAMPERED" || true
set +e
cli evidence verify "$TAMPERED" --proof "$PROOF" --genesis "$GENESIS"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "the tampered file gave exit code $rc, expected 1 (NOT VERIFIED)"

step "for people without a terminal: the verifier page and the report"
cli evidence verifier-page --out "$WORK/verify.html" --genesis "$GENESIS"
cli evidence report "$EVIDENCE" --proof "$PROOF" --genesis "$GENESIS" --out "$WORK/report.pdf" --html "$WORK/report.html" >/dev/null
echo "report: $WORK/report.pdf (and report.html)"

step "verifying the whole case offline, with the evidence file, trusting only the genesis file"
cli case verify "$CASE_PROOF" --genesis "$GENESIS" --evidence "$EVIDENCE" || fail "the case proof did not verify"

# --- 6. summary ------------------------------------------------------------------------------------
step "summary"
cat <<EOF
  chain        $DIR ($NODES sealers, stopped)
  evidence     $EVIDENCE
  sha-256      $HASH
  case         $CASE: opened by Alice, evidence attached, ruled by Carol
  proof        $PROOF ($(wc -c <"$PROOF") bytes)
  gateway      200 statements notarized in batches; $ITEM: VERIFIED offline
  offline      original file: VERIFIED (exit 0); one byte changed: NOT VERIFIED (exit 1)
  verifier     $WORK/verify.html  (open it in a browser, drop in the file and the proof: offline)
  report       $WORK/report.pdf, $WORK/report.html
  explorer     http://127.0.0.1:$RPC/explorer/  (on every node's RPC port while the chain runs: scripts/start_all.sh $DIR)
  case proof   $CASE_PROOF: the whole case VERIFIED offline (exit 0)
  took         $((SECONDS - START)) s
EOF
