"""``consortium case proof`` / ``case verify`` through the real CLI against a real JSON-RPC server, then offline."""

from __future__ import annotations

import json
from pathlib import Path

from tests.evidence.case_chain import CASE_ID, CHAT, PHOTO, run_case
from tests.evidence.evidence_chain import ALICE, ARBITER

from consortium.encoding.hexbytes import to_hex
from consortium.evidence.commitment import opening_file_text


def test_case_proof_then_offline_verification(cli, tmp_path: Path) -> None:
    c = run_case(tmp_path / "db")
    chat_proof = tmp_path / "chat.txt.proof.json"
    chat_proof.write_text(opening_file_text(c.chat))  # what Alice kept when she notarized
    case_proof = tmp_path / "case.proof.json"
    try:
        with c.chain.serve() as url:
            code, out, err = cli("case", "proof", CASE_ID, "--out", str(case_proof), "--evidence-proof",
                                 str(chat_proof), "--rpc", url, "--json")
            assert code == 0, err
            assert json.loads(out) == {"case": CASE_ID, "proof": str(case_proof), "attachments": 2, "opened": 1,
                                       "ruled": True}
            code, _, err = cli("case", "proof", "NO-SUCH-CASE", "--out", str(tmp_path / "x.json"), "--rpc", url)
            assert code == 1 and "no case 'NO-SUCH-CASE'" in err and not (tmp_path / "x.json").exists()
        genesis = tmp_path / "genesis.toml"
        genesis.write_text(c.genesis.to_toml())
    finally:
        c.chain.close()
    chat, photo = tmp_path / "chat.txt", tmp_path / "photo.png"
    chat.write_bytes(CHAT)
    photo.write_bytes(PHOTO)

    code, out, err = cli("case", "verify", str(case_proof), "--genesis", str(genesis), "--evidence", str(chat),
                         "--evidence", str(photo))
    assert code == 0, err + out
    assert out.startswith(f"VERIFIED  case {CASE_ID}: closed with a ruling")
    assert f"by {to_hex(ALICE.address)} (a party)" in out and to_hex(ARBITER.address) in out
    assert "file chat.txt (matches)" in out and "file photo.png (matches)" in out
    assert "registered by the committee: proposal #1" in out and '"Bob refunds 6 chairs"' in out

    code, out, _ = cli("case", "verify", str(case_proof), "--genesis", str(genesis), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "CLOSED" and len(doc["attachments"]) == 2
    assert doc["attachments"][0]["evidence"]["submitter"] == to_hex(ALICE.address)
    assert doc["registration"]["threshold"] == 2 and len(doc["registration"]["approvals"]) == 2

    chat.write_bytes(CHAT.replace(b"6", b"5"))
    code, out, _ = cli("case", "verify", str(case_proof), "--genesis", str(genesis), "--evidence", str(chat))
    assert code == 1 and out.startswith("NOT VERIFIED: chat.txt") and "file-changed" in out
    case_proof.write_text(case_proof.read_text()[:500])
    code, out, _ = cli("case", "verify", str(case_proof), "--genesis", str(genesis))
    assert code == 1 and "malformed-proof" in out
    code, _, err = cli("case", "verify", str(tmp_path / "missing.json"), "--genesis", str(genesis))
    assert code == 2 and "cannot read the case proof" in err
