"""``consortium evidence verify`` and ``evidence hash`` through the real CLI entry point: output and exit
codes (0 VERIFIED, 1 NOT VERIFIED, 2 usage or I/O error). No node needed: verification is offline."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from tests.evidence.conftest import DOC, Notarized
from tests.evidence.evidence_chain import ALICE, BOB, make_genesis

from consortium.evidence.filehash import CHUNK, PROGRESS_MIN_BYTES, hash_file, hash_file_with_progress


@pytest.fixture
def files(tmp_path: Path, notarized: Notarized) -> dict[str, Path]:
    paths = {"doc": tmp_path / "contract.pdf", "proof": tmp_path / "contract.pdf.proof.json",
             "genesis": tmp_path / "genesis.toml", "other_genesis": tmp_path / "other.toml"}
    paths["doc"].write_bytes(DOC)
    paths["proof"].write_text(notarized.full.dumps())
    paths["genesis"].write_text(make_genesis().to_toml())
    paths["other_genesis"].write_text(make_genesis(chain_id="elsewhere").to_toml())
    return paths


def verify_args(files, *, doc=None, proof=None, genesis=None) -> list[str]:
    return ["evidence", "verify", str(doc or files["doc"]), "--proof", str(proof or files["proof"]),
            "--genesis", str(genesis or files["genesis"])]


def test_verified_prints_hash_block_time_submitter_and_cosigner(cli, files) -> None:
    code, out, _ = cli(*verify_args(files))
    assert code == 0
    assert out.startswith("VERIFIED: contract.pdf is the evidence this proof is about.")
    assert "0x" + hashlib.sha256(DOC).hexdigest() in out
    assert ("The file existed unchanged no later than block 1, sealed at 2023-11-14T22:13:21.000Z (UTC, the "
            "block timestamp, set by the sealers) by 4 of the 4 sealers") in out
    assert f"It was notarized by 0x{ALICE.address.hex()}, whose key signed" in out
    assert f"Co-signed by 0x{BOB.address.hex()} (block 2," in out and "has co-signed (status COMPLETE)" in out
    assert "The submitter recorded with it — file name: contract.pdf" in out
    assert "Not proven: that what the submitter recorded is true" in out
    assert "No time-stamping authority's token is in this proof" in out


def test_verified_as_json(cli, files) -> None:
    code, out, _ = cli(*verify_args(files), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["verified"] is True and doc["block"] == 1
    assert doc["submitter"] == "0x" + ALICE.address.hex()
    assert [c["address"] for c in doc["cosigners"]] == ["0x" + BOB.address.hex()]


def test_one_changed_byte_exits_1_with_the_reason(cli, files) -> None:
    data = bytearray(DOC)
    data[0] ^= 1
    files["doc"].write_bytes(bytes(data))
    code, out, _ = cli(*verify_args(files))
    assert code == 1
    assert out.startswith("NOT VERIFIED: the file's SHA-256 is") and "file-changed" in out


def test_not_verified_as_json(cli, files) -> None:
    code, out, _ = cli(*verify_args(files, genesis=files["other_genesis"]), "--json")
    doc = json.loads(out)
    assert code == 1 and doc == {"verified": False, "code": "another-chain", "reason": doc["reason"]}
    assert "'elsewhere'" in doc["reason"]


@pytest.mark.parametrize("content, words", [
    (lambda text: text[: len(text) // 2], "not valid JSON"),
    (lambda text: "this is not a proof", "not valid JSON"),
    (lambda text: text.replace('"version": 2', '"version": "one"'), "version"),
])
def test_damaged_proof_files_are_not_verified(cli, files, content, words) -> None:
    files["proof"].write_text(content(files["proof"].read_text()))
    code, out, _ = cli(*verify_args(files))
    assert code == 1 and "NOT VERIFIED" in out and words in out and "malformed-proof" in out


def test_a_newer_proof_format_is_a_usage_error(cli, files) -> None:
    files["proof"].write_text(files["proof"].read_text().replace('"version": 2', '"version": 3'))
    code, out, err = cli(*verify_args(files))
    assert code == 2 and out == "" and "upgrade" in err


@pytest.mark.parametrize("which, words", [
    ("doc", "cannot read"),
    ("proof", "cannot read the proof"),
    ("genesis", "genesis.toml: no such file"),
])
def test_missing_files_are_usage_errors(cli, files, which, words) -> None:
    files[which].unlink()
    code, out, err = cli(*verify_args(files))
    assert code == 2 and out == "" and words in err


def test_a_bad_genesis_file_is_a_usage_error(cli, files) -> None:
    files["genesis"].write_text("[chain]\nchain_id = 5\n")
    code, _, err = cli(*verify_args(files))
    assert code == 2 and "bad genesis file" in err


def test_proof_and_rpc_together_are_refused(cli, files) -> None:
    with pytest.raises(SystemExit) as info:
        cli(*verify_args(files), "--rpc", "http://127.0.0.1:9/")
    assert info.value.code == 2


def test_verify_against_an_unreachable_node_is_an_io_error(cli, files) -> None:
    code, _, err = cli("evidence", "verify", str(files["doc"]), "--rpc", "http://127.0.0.1:9/",
                       "--genesis", str(files["genesis"]))
    assert code == 2 and "cannot reach" in err


def test_hash_command_matches_sha256(cli, files) -> None:
    code, out, _ = cli("evidence", "hash", str(files["doc"]), "--json")
    assert code == 0 and json.loads(out)["sha256"] == "0x" + hashlib.sha256(DOC).hexdigest()


def test_transaction_commands_need_a_key(cli, files, monkeypatch) -> None:
    monkeypatch.delenv("CONSORTIUM_KEY", raising=False)
    code, _, err = cli("evidence", "sign", "0x" + "11" * 32, "--rpc", "http://127.0.0.1:9/")
    assert code == 2 and "--key" in err


def test_bad_addresses_and_hashes_are_usage_errors(cli, files) -> None:
    code, _, err = cli("evidence", "notarize", str(files["doc"]), "--signer", "0x1234", "--rpc", "http://127.0.0.1:9/")
    assert code == 2 and "20 bytes" in err
    code, _, err = cli("evidence", "show", "0xabc", "--rpc", "http://127.0.0.1:9/")
    assert code == 2 and "evidence key" in err
    code, _, err = cli("evidence", "show", "no-such-file", "--rpc", "http://127.0.0.1:9/")
    assert code == 2 and "neither a 0x evidence key nor an existing file" in err


# --- streaming hash ----------------------------------------------------------------------------------


def test_hash_streams_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = bytes(range(256)) * (3 * CHUNK // 256) + b"tail"
    path.write_bytes(data)
    calls: list[tuple[int, int]] = []
    digest, size = hash_file(path, lambda done, total: calls.append((done, total)))
    assert (digest, size) == (hashlib.sha256(data).digest(), len(data))
    assert [d for d, _ in calls] == [CHUNK, 2 * CHUNK, 3 * CHUNK, len(data)]
    assert {t for _, t in calls} == {len(data)}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_for_large_files(tmp_path: Path) -> None:
    big = tmp_path / "sparse.img"
    with open(big, "wb") as f:
        f.truncate(PROGRESS_MIN_BYTES + CHUNK // 2)  # sparse: costs no disk
    term, pipe = Terminal(), io.StringIO()
    expected = hashlib.sha256(bytes(PROGRESS_MIN_BYTES + CHUNK // 2)).digest()
    assert hash_file_with_progress(big, term)[0] == expected
    assert "100%" in term.getvalue() and term.getvalue().endswith("\n")
    assert hash_file_with_progress(big, pipe)[0] == expected and pipe.getvalue() == ""
    small = tmp_path / "small.txt"
    small.write_bytes(b"x")
    hash_file_with_progress(small, term2 := Terminal())
    assert term2.getvalue() == ""


def test_every_refusal_tells_the_reader_what_to_do(cli, files) -> None:
    from consortium.cli.evidence_report import WHAT_TO_DO
    from consortium.evidence.errors import CODES

    assert set(WHAT_TO_DO) == set(CODES)
    code, out, _ = cli(*verify_args(files, genesis=files["other_genesis"]))
    assert code == 1 and "What to do: Use the genesis.toml of the chain the proof comes from" in out
