"""The CLI as a person uses it: host:port for --rpc, --timeout, JSON errors with --json, no internal
``$bytes`` encoding in what people read, addresses and hashes typed as 0x…, openssl's serial format,
and a clear refusal of garbage given to sendTransaction. Against one real node process."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.ops.opskit import cli, new_chain, start_node, stop_process, wait_port

from consortium.cli.gov_cmd import parse_params
from consortium.client import RpcCallError, SyncClient


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    root = tmp_path_factory.mktemp("cli") / "chain"
    bases = new_chain(root, nodes=1)
    proc = start_node(root / "node0" / "config.toml", "--log-file", str(root / "node0" / "node.log"))
    try:
        wait_port(bases["rpc"])
        yield root, bases["rpc"]
    finally:
        stop_process(proc)


def test_rpc_accepts_host_port_and_plain_port(node: tuple[Path, int]) -> None:
    _, port = node
    for form in (f"localhost:{port}", f"127.0.0.1:{port}", str(port), f"http://127.0.0.1:{port}"):
        r = cli("status", "--rpc", form, "--json")
        assert r.returncode == 0, (form, r.stderr)
        assert json.loads(r.stdout)["blockNumber"] >= 0
    r = cli("status", "--rpc", "localhost:notaport")
    assert r.returncode == 2 and "NonHttpUrlClientError" not in r.stderr and "bad port" in r.stderr


def test_json_errors_are_json_on_stderr_with_a_nonzero_exit(node: tuple[Path, int]) -> None:
    _, port = node
    r = cli("tx", "receipt", "0x12", "--rpc", str(port), "--json")
    assert r.returncode == 2 and r.stdout == ""
    assert "32 bytes" in json.loads(r.stderr)["error"]["message"]
    r = cli("block", "show", "999999", "--rpc", str(port), "--json")
    assert r.returncode != 0 and r.stdout == ""
    assert json.loads(r.stderr)["error"]["exit"] == r.returncode
    r = cli("block", "show", "999999", "--rpc", str(port))  # without --json: one plain line
    assert r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1


def test_timeout_bounds_how_long_a_command_waits_for_a_silent_node() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        # Without --timeout this waits 30 s and the subprocess timeout below would fire.
        r = cli("status", "--rpc", f"127.0.0.1:{port}", "--timeout", "1", "--json", timeout=15)
    assert r.returncode == 2
    assert "Timeout" in json.loads(r.stderr)["error"]["message"]
    r = cli("status", "--timeout", "-3")
    assert r.returncode == 2 and "--timeout must be a number of seconds" in r.stderr


def test_people_read_0x_hex_not_dollar_bytes(node: tuple[Path, int]) -> None:
    root, port = node
    r = cli("gov", "show", "state", "--rpc", str(port))
    assert r.returncode == 0, r.stderr
    assert "$bytes" not in r.stdout and "0x" in r.stdout
    r = cli("gov", "show", "state", "--rpc", str(port), "--json")  # programs still get the typed form
    assert "$bytes" in r.stdout
    # A 32-byte hash typed as 0x… is bytes in contract arguments; the receipt's events show 0x… too.
    digest = "0x" + "ab" * 32
    args = json.dumps([digest, {"case_id": "c-1", "file_name": "a.pdf", "size": 3}, []])
    r = cli("contract", "call", "evidence", "notarize", args, "--rpc", str(port),
            "--key", str(root / "accounts" / "admin0.json"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "$bytes" not in r.stdout and digest in r.stdout
    r = cli("contract", "query", "evidence", "get", json.dumps([digest]), "--rpc", str(port))
    assert r.returncode == 0, r.stderr
    assert "$bytes" not in r.stdout and digest in r.stdout
    # {"$str": …} keeps a 0x-looking text a string.
    r = cli("contract", "query", "evidence", "get", json.dumps([{"$str": digest}]), "--rpc", str(port), "--json")
    assert r.returncode == 0 and json.loads(r.stdout) != json.loads(
        cli("contract", "query", "evidence", "get", json.dumps([digest]), "--rpc", str(port), "--json").stdout)


def test_revocation_takes_the_serial_as_openssl_prints_it(tmp_path: Path) -> None:
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ed25519", "-keyout", str(key), "-out", str(crt),
                    "-days", "1", "-nodes", "-subj", "/CN=x"], check=True, capture_output=True, timeout=30)
    printed = subprocess.run(["openssl", "x509", "-in", str(crt), "-noout", "-serial"], check=True,
                             capture_output=True, text=True, timeout=30).stdout.strip()
    assert printed.startswith("serial=")
    from cryptography import x509

    serial = x509.load_pem_x509_certificate(crt.read_bytes()).serial_number
    expected = serial.to_bytes((serial.bit_length() + 7) // 8, "big")
    hex_digits = printed.split("=", 1)[1]
    colons = ":".join(hex_digits[i:i + 2] for i in range(0, len(hex_digits), 2)).lower()
    for form in (printed, colons, "0x" + hex_digits, str(serial)):
        assert parse_params("revoke_node_cert", [form]) == [expected], form


def test_send_transaction_garbage_gets_a_sentence_not_a_decoder_message(node: tuple[Path, int]) -> None:
    _, port = node
    with SyncClient(f"http://127.0.0.1:{port}/") as c:
        with pytest.raises(RpcCallError) as caught:
            c.request("sendTransaction", "0xdeadbeef")
    assert caught.value.message.startswith("these 4 bytes are not a signed transaction")
    assert "Transaction.encode()" in caught.value.message
