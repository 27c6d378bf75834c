"""Per-organization key custody, run as four organizations would on their own machines: each makes
its own CA, nodes and accounts with the CLI in its own folder; only descriptors and the genesis
travel; no private key ever appears in another organization's folder; bad input names the file."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
import tomli_w

from consortium.cli.main import main
from consortium.network.certs import (
    cert_der,
    cert_pem,
    csr_pem,
    generate_key,
    issue_node_cert,
    issue_org_ca,
    load_cert,
    load_private_key,
    make_csr,
    node_id_of,
    write_cert,
)
from consortium.node.config import load_config
from consortium.node.genesis import load_genesis

ORGS = ("bank", "customers", "arbitration", "notary")


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ok(capsys, *argv: str) -> str:
    code, out, err = cli(capsys, *argv)
    assert code == 0, err
    return out


def refused(capsys, *argv: str) -> str:
    code, out, err = cli(capsys, *argv)
    assert code == 2, out
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one line, no traceback
    return err


@pytest.fixture
def consortium(tmp_path: Path, capsys) -> Path:
    """Four organizations, each in its own folder ("machine"), one sealer each; genesis agreed."""
    for i, name in enumerate(ORGS):
        home = tmp_path / name
        ok(capsys, "org", "new", "--dir", str(home / "org"), "--name", name)
        if name == "notary":  # the notary's node host is not its CA's: CSR flow
            ok(capsys, "node", "new", "--csr", "--out", str(home / "node"), "--name", "node0",
               "--host", "0.0.0.0", "--advertise", f"127.0.0.1:{31000 + i}", "--p2p-port", str(31000 + i),
               "--rpc-port", str(32000 + i))
            ok(capsys, "org", "sign-csr", str(home / "node" / "node.csr"), "--org", str(home / "org"),
               "--name", "node0", "--endpoint", f"127.0.0.1:{31000 + i}")
        else:
            ok(capsys, "node", "new", "--org", str(home / "org"), "--name", "node0", "--out", str(home / "node"),
               "--p2p-port", str(31000 + i), "--rpc-port", str(32000 + i))
    # Only the descriptors travel, to whoever assembles the genesis (here: the bank).
    inbox = tmp_path / "bank" / "inbox"
    inbox.mkdir()
    for name in ORGS:
        shutil.copy(tmp_path / name / "org" / "org.toml", inbox / f"{name}.toml")
    ok(capsys, "genesis", "new", *[a for n in ORGS for a in ("--from", str(inbox / f"{n}.toml"))],
       "--out", str(inbox / "genesis.toml"))
    agreed = json.loads(ok(capsys, "genesis", "show", str(inbox / "genesis.toml"), "--json"))["genesis_hash"]
    for name in ORGS:  # each receives the file, confirms the hash out of band, installs it
        copy = tmp_path / name / "genesis.toml"
        shutil.copy(inbox / "genesis.toml", copy)
        assert json.loads(ok(capsys, "genesis", "show", str(copy), "--json"))["genesis_hash"] == agreed
        ok(capsys, "genesis", "install", str(copy), "--node", str(tmp_path / name / "node"), "--expect-hash", agreed)
    return tmp_path


def private_material(folder: Path) -> dict[bytes, Path]:
    """Every secret in ``folder``: PEM private keys (raw Ed25519 seed) and consortium key files."""
    found: dict[bytes, Path] = {}
    for path in folder.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        if b"PRIVATE KEY" in data:
            key = load_private_key(path)
            from cryptography.hazmat.primitives import serialization

            found[key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())] = path
        elif path.suffix == ".json" and b'"secret"' in data:
            found[bytes.fromhex(json.loads(data)["secret"][2:])] = path
    return found


def test_private_keys_never_leave_their_organization(consortium: Path) -> None:
    secrets = {name: private_material(consortium / name) for name in ORGS}
    for name, mine in secrets.items():
        # each organization holds its CA key, its node key and its admin key: exactly three
        assert len(mine) == 3, (name, sorted(map(str, mine.values())))
        for other, theirs in secrets.items():
            if other != name:
                assert not set(mine) & set(theirs), f"a key of {name} is in {other}'s folder"
    everything = {s for mine in secrets.values() for s in mine}
    public = [consortium / "bank" / "inbox" / f"{n}.toml" for n in ORGS] + [consortium / "bank" / "inbox" / "genesis.toml"]
    for path in public:
        text = path.read_bytes()
        assert b"PRIVATE KEY" not in text and b"\"secret\"" not in text
        assert not any(s.hex().encode() in text for s in everything), path


def test_genesis_lists_the_members_and_each_node_chains_to_its_own_ca(consortium: Path) -> None:
    g = load_genesis(consortium / "bank" / "genesis.toml")
    assert [o.name for o in g.organizations] == list(ORGS)
    assert [s.org for s in g.sealers] == list(ORGS)
    assert len(g.committee) == 4 and g.committee_threshold == 3
    for name, sealer, org in zip(ORGS, g.sealers, g.organizations, strict=True):
        cfg = load_config(consortium / name / "node" / "config.toml")
        assert node_id_of(load_private_key(cfg.key_path)) == sealer.node_id
        assert org.certificate() == load_cert(consortium / name / "org" / "ca" / "ca.crt")
        tc = cfg.transport_config(g)
        assert tc.membership is not None and tc.membership.issuer(load_cert(cfg.cert_path)) == name
        assert {p.node_id for p in cfg.p2p.peers} == set(g.sealer_ids) - {sealer.node_id}
    notary = load_config(consortium / "notary" / "node" / "config.toml")
    assert notary.p2p.host == "0.0.0.0" and str(notary.p2p.endpoint) == "127.0.0.1:31003"  # listen vs advertised


# --- bad input: each refused with one line naming the file and what to fix -------------------------

def test_descriptor_from_another_chain(tmp_path, capsys) -> None:
    ok(capsys, "org", "new", "--dir", str(tmp_path / "a"), "--name", "a")
    ok(capsys, "org", "new", "--dir", str(tmp_path / "b"), "--name", "b", "--chain-id", "other")
    for org in "ab":
        ok(capsys, "node", "new", "--org", str(tmp_path / org), "--name", "n")
    err = refused(capsys, "genesis", "new", "--from", str(tmp_path / "a" / "org.toml"), "--from",
                  str(tmp_path / "b" / "org.toml"), "--out", str(tmp_path / "g.toml"))
    assert str(tmp_path / "b" / "org.toml") in err and "another chain" in err and "--chain-id chain0" in err
    # a descriptor whose CA names another chain than the descriptor claims
    doc = tomllib.loads((tmp_path / "b" / "org.toml").read_text())
    doc["chain_id"] = "chain0"
    (tmp_path / "b" / "org.toml").write_text(tomli_w.dumps(doc, multiline_strings=True))
    err = refused(capsys, "genesis", "new", "--from", str(tmp_path / "b" / "org.toml"), "--out", str(tmp_path / "g"))
    assert str(tmp_path / "b" / "org.toml") in err and "CA for chain 'other', not 'chain0'" in err
    assert not (tmp_path / "g.toml").exists() and not (tmp_path / "g").exists()


def _swap_cert(desc: Path, *, ca: str | None = None, node: str | None = None) -> None:
    doc = tomllib.loads(desc.read_text())
    if ca is not None:
        doc["ca_cert"] = ca
    if node is not None:
        doc["node"][0]["cert"] = node
    desc.write_text(tomli_w.dumps(doc, multiline_strings=True))


def test_expired_and_wrong_purpose_certificates(tmp_path, capsys) -> None:
    ok(capsys, "org", "new", "--dir", str(tmp_path / "a"), "--name", "a")
    ok(capsys, "node", "new", "--org", str(tmp_path / "a"), "--name", "n")
    desc = tmp_path / "a" / "org.toml"
    original = desc.read_text()
    ca_key = load_private_key(tmp_path / "a" / "ca" / "ca.key")
    ca = load_cert(tmp_path / "a" / "ca" / "ca.crt")
    node_key = load_private_key(tmp_path / "a" / "nodes" / "n" / "node.key")
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    expired = issue_node_cert(ca_key, ca, node_key.public_key(), host="127.0.0.1", not_valid_before=past,
                              not_valid_after=past + dt.timedelta(days=1))
    cases = [
        (dict(node=cert_pem(expired).decode()), "expired on"),
        (dict(ca=doc_node_cert(original)), "is not a CA certificate (wrong purpose"),
        (dict(node=cert_pem(ca).decode()), "(wrong purpose"),
        (dict(ca=cert_pem(issue_org_ca("a", "chain0", now=past - dt.timedelta(days=4000))[1]).decode()), "expired on"),
    ]
    for change, needle in cases:
        desc.write_text(original)
        _swap_cert(desc, **change)
        err = refused(capsys, "genesis", "new", "--from", str(desc), "--out", str(tmp_path / "g.toml"))
        assert str(desc) in err and needle in err, err
        assert "consortium" in err  # says which command makes a good one


def doc_node_cert(text: str) -> str:
    return tomllib.loads(text)["node"][0]["cert"]


def test_csr_whose_key_does_not_match(tmp_path, capsys) -> None:
    ok(capsys, "org", "new", "--dir", str(tmp_path / "a"), "--name", "a")
    mine, other = generate_key(), generate_key()
    good = make_csr(mine, host="127.0.0.1")
    # a request whose CN names one key but which is signed with (and carries) another
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    forged = (x509.CertificateSigningRequestBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_id_of(mine).hex())]))
              .sign(other, algorithm=None))
    (tmp_path / "forged.csr").write_bytes(csr_pem(forged))
    err = refused(capsys, "org", "sign-csr", str(tmp_path / "forged.csr"), "--org", str(tmp_path / "a"),
                  "--name", "n", "--endpoint", "127.0.0.1:1")
    assert str(tmp_path / "forged.csr") in err and "does not match its key" in err and "node new --csr" in err
    # a request altered after signing
    pem = bytearray(csr_pem(good))
    body = pem.index(b"\n") + 40
    pem[body] = ord("A") if pem[body] != ord("A") else ord("B")
    (tmp_path / "altered.csr").write_bytes(bytes(pem))
    err = refused(capsys, "org", "sign-csr", str(tmp_path / "altered.csr"), "--org", str(tmp_path / "a"),
                  "--name", "n", "--endpoint", "127.0.0.1:1")
    assert str(tmp_path / "altered.csr") in err
    assert not (tmp_path / "node.crt").exists()
    assert "node" not in tomllib.loads((tmp_path / "a" / "org.toml").read_text())


def test_genesis_whose_hash_differs_between_organizations(consortium: Path, capsys) -> None:
    mine = consortium / "notary" / "genesis.toml"
    agreed = json.loads(ok(capsys, "genesis", "show", str(mine), "--json"))["genesis_hash"]
    tampered = consortium / "tampered.toml"
    tampered.write_text(mine.read_text().replace("committee_threshold = 3", "committee_threshold = 1"))
    shutil.rmtree(consortium / "notary" / "node" / "data")
    (consortium / "notary" / "node" / "genesis.toml").unlink()
    err = refused(capsys, "genesis", "install", str(tampered), "--node", str(consortium / "notary" / "node"),
                  "--expect-hash", agreed)
    assert str(tampered) in err and "differs between organizations" in err and "genesis show" in err
    assert not (consortium / "notary" / "node" / "genesis.toml").exists()


def test_node_id_that_is_not_a_valid_key(tmp_path, capsys) -> None:
    ok(capsys, "org", "new", "--dir", str(tmp_path / "a"), "--name", "a")
    ok(capsys, "node", "new", "--org", str(tmp_path / "a"), "--name", "n")
    desc = tmp_path / "a" / "org.toml"
    doc = tomllib.loads(desc.read_text())
    doc["node"][0]["node_id"] = "0x" + "ab" * 32
    desc.write_text(tomli_w.dumps(doc, multiline_strings=True))
    err = refused(capsys, "genesis", "new", "--from", str(desc), "--out", str(tmp_path / "g.toml"))
    assert str(desc) in err and "is not a valid Ed25519 public key" in err
    doc["node"][0]["node_id"] = "0x" + node_id_of(generate_key()).hex()  # valid, but not the cert's key
    desc.write_text(tomli_w.dumps(doc, multiline_strings=True))
    err = refused(capsys, "genesis", "new", "--from", str(desc), "--out", str(tmp_path / "g.toml"))
    assert str(desc) in err and "is not the key of its certificate" in err


def test_a_node_of_a_non_member_cannot_install_the_genesis(consortium: Path, tmp_path, capsys) -> None:
    outsider = tmp_path / "outsider"
    ok(capsys, "org", "new", "--dir", str(outsider), "--name", "outsider")
    ok(capsys, "node", "new", "--org", str(outsider), "--name", "n")
    err = refused(capsys, "genesis", "install", str(consortium / "bank" / "genesis.toml"), "--node",
                  str(outsider / "nodes" / "n"))
    assert "not a member organization" in err and str(outsider / "nodes" / "n" / "node.crt") in err


def test_org_and_node_refuse_to_overwrite(tmp_path, capsys) -> None:
    ok(capsys, "org", "new", "--dir", str(tmp_path / "a"), "--name", "a")
    before = (tmp_path / "a" / "ca" / "ca.key").read_bytes()
    assert "already holds an organization" in refused(capsys, "org", "new", "--dir", str(tmp_path / "a"), "--name", "a")
    assert (tmp_path / "a" / "ca" / "ca.key").read_bytes() == before
    ok(capsys, "node", "new", "--org", str(tmp_path / "a"), "--name", "n")
    assert "already has a node named" in refused(capsys, "node", "new", "--org", str(tmp_path / "a"), "--name", "n",
                                                 "--out", str(tmp_path / "elsewhere"))
    assert "needs --advertise" in refused(capsys, "node", "new", "--org", str(tmp_path / "a"), "--name", "m",
                                          "--host", "0.0.0.0")
    assert re.search(r"not an organization folder", refused(capsys, "node", "new", "--org", str(tmp_path), "--name", "x"))
    write_cert(tmp_path / "unused.crt", load_cert(tmp_path / "a" / "ca" / "ca.crt"))


def test_certificates_expiring_within_30_days_are_warned_about(tmp_path) -> None:
    from consortium.network.membership import Membership
    from consortium.node.admission import expiry_warnings

    now = dt.datetime.now(dt.timezone.utc)
    ca_key, ca = issue_org_ca("bank", "chain0")
    _, soon_ca = issue_org_ca("notary", "chain0", days=12)
    key = generate_key()
    write_cert(tmp_path / "ca.crt", ca)
    write_cert(tmp_path / "node.crt", issue_node_cert(ca_key, ca, key.public_key(), host="127.0.0.1",
                                                      not_valid_after=now + dt.timedelta(days=10)))
    members = Membership(orgs=(("bank", cert_der(ca)), ("notary", cert_der(soon_ca))))
    lines = expiry_warnings(tmp_path / "node.crt", tmp_path / "ca.crt", members, now=now)
    assert len(lines) == 2, lines
    assert lines[0].startswith("this node's certificate node.crt expires in 9 days") and "consortium node new" in lines[0]
    assert lines[1].startswith("member organization notary's CA expires in 11 days")
    assert expiry_warnings(tmp_path / "node.crt", tmp_path / "ca.crt", members, now=now + dt.timedelta(days=20))[0] \
        .startswith("this node's certificate node.crt expired")
    later = now - dt.timedelta(days=365)  # a year earlier nothing was close to expiring
    assert expiry_warnings(tmp_path / "node.crt", tmp_path / "ca.crt", members, now=later) == []
