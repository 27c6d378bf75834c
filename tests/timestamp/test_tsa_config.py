"""Where trusted TSAs come from: genesis ``[[tsa]]`` (hashed), governance ``add_tsa``/``remove_tsa``, node ``[anchor]``."""

from __future__ import annotations

import base64

import pytest
from tests.evidence.evidence_chain import make_genesis
from tests.governance.test_governance_contract import S1, S2, S3, S4, A, B, DictState, contract
from tests.helpers.tsa import TsaFiles

from consortium.crypto.timestamp import TrustedTsa
from consortium.execution.errors import BadTransaction, Revert
from consortium.execution.governance import KEY_TSAS, GovernanceGenesis, GovernanceState, genesis_writes
from consortium.node.genesis import Genesis, GenesisError
from consortium.node.toml_io import ConfigError


def with_tsas(*tsas: TrustedTsa) -> Genesis:
    g = make_genesis()
    return Genesis(**{**g.__dict__, "tsas": tuple(tsas)})


def test_genesis_tsas_round_trip_through_toml_and_change_the_hash(tsa: TsaFiles, other_tsa: TsaFiles) -> None:
    plain = make_genesis()
    g = with_tsas(TrustedTsa(tsa.name, tsa.ca_der), TrustedTsa(other_tsa.name, other_tsa.ca_der, "1.2.3.4"))
    text = g.to_toml()
    assert "[[tsa]]" in text and "-----BEGIN CERTIFICATE-----" in text
    again = Genesis.from_toml(text)
    assert again == g and again.hash() == g.hash()
    assert g.hash() != plain.hash()
    assert Genesis.from_toml(plain.to_toml()).hash() == plain.hash()  # no [[tsa]]: the hash of before
    reordered = with_tsas(TrustedTsa(other_tsa.name, other_tsa.ca_der, "1.2.3.4"), TrustedTsa(tsa.name, tsa.ca_der))
    assert reordered.hash() != g.hash()


def test_bad_tsa_entries_in_genesis_name_the_key(tsa: TsaFiles) -> None:
    text = with_tsas(TrustedTsa(tsa.name, tsa.ca_der)).to_toml()
    with pytest.raises(ConfigError, match=r"tsa\[0\]\.certificate must be a PEM certificate"):
        Genesis.from_toml(text.replace("MII", "XXX", 1))
    with pytest.raises(ConfigError, match="dotted OID"):
        Genesis.from_toml(text.replace('name = "Test TSA A"', 'name = "Test TSA A"\npolicy = "gold"'))
    with pytest.raises(GenesisError, match="distinct names"):
        with_tsas(TrustedTsa("x", tsa.ca_der), TrustedTsa("x", tsa.ca_der))


def test_a_tsa_certificate_of_an_unknown_version_is_a_config_error(tsa: TsaFiles) -> None:
    """cryptography raises InvalidVersion (no ValueError) for an X.509 version other than v1-v3: genesis and
    TrustedTsa refuse it like any unreadable certificate instead of crashing (found by the offline page's genesis
    cross-check: one changed PEM character can make the version 4)."""
    der = bytearray(tsa.ca_der)
    at = der.index(bytes.fromhex("a003020102"))  # [0] EXPLICIT INTEGER 2 (v3)
    der[at + 4] = 3
    with pytest.raises(ValueError, match="not a DER X.509 certificate"):
        TrustedTsa("v4", bytes(der))
    text = with_tsas(TrustedTsa(tsa.name, tsa.ca_der)).to_toml()
    pem = TrustedTsa(tsa.name, tsa.ca_der).certificate
    good = base64.b64encode(pem).decode()
    bad = base64.b64encode(bytes(der)).decode()
    lines = lambda b: "\n".join(b[i:i + 64] for i in range(0, len(b), 64))  # noqa: E731
    assert lines(good) in text
    with pytest.raises(ConfigError, match=r"tsa\[0\]\.certificate must be a PEM certificate"):
        Genesis.from_toml(text.replace(lines(good), lines(bad)))


def test_governance_adds_and_removes_tsas(tsa: TsaFiles, other_tsa: TsaFiles) -> None:
    state = DictState(genesis_writes(GovernanceGenesis(((A, 1), (B, 1)), 1, (S1, S2, S3, S4), (A,),
                                                       tsas=((tsa.name, tsa.ca_der, ""),))))
    read = GovernanceState(state.get)
    assert read.tsa_entries() == [(tsa.name, tsa.ca_der, "")]
    contract(state, A).propose("add_tsa", [other_tsa.name, other_tsa.ca_der, "1.2.3"], 100)
    assert [n for n, _, _ in read.tsa_entries()] == [tsa.name, other_tsa.name]
    with pytest.raises(Revert, match="already trusted"):
        contract(state, A).propose("add_tsa", [tsa.name, tsa.ca_der, ""], 100)
    with pytest.raises(BadTransaction, match="add_tsa takes three params"):
        contract(state, A).propose("add_tsa", [tsa.name, "not bytes", ""], 100)
    contract(state, A).propose("remove_tsa", [tsa.name], 100)
    assert read.tsa_entries() == [(other_tsa.name, other_tsa.ca_der, "1.2.3")]
    with pytest.raises(Revert, match="no trusted time-stamping authority"):
        contract(state, A).propose("remove_tsa", [tsa.name], 100)


def test_a_chain_without_tsas_has_no_tsa_key() -> None:
    assert KEY_TSAS not in genesis_writes(GovernanceGenesis(((A, 1),), 1, (S1,), (A,)))


def test_anchor_settings_in_config_toml(tmp_path) -> None:
    from consortium.node.chain_files import ChainSpec, new_chain
    from consortium.node.config import load_config

    layout = new_chain(tmp_path / "c", ChainSpec(nodes=1))
    cfg = layout.nodes[0].dir / "config.toml"
    assert load_config(cfg).anchor is None
    base = cfg.read_text()
    cfg.write_text(base + '\n[anchor]\ntsa_urls = ["http://127.0.0.1:9/tsa"]\ninterval_s = 5\n')
    a = load_config(cfg).anchor
    assert a is not None and a.tsa_urls == ("http://127.0.0.1:9/tsa",) and a.interval_s == 5 and a.timeout_s == 10
    cfg.write_text(base + '\n[anchor]\ntsa_urls = ["ftp://x"]\n')
    with pytest.raises(ConfigError, match="anchor.tsa_urls must list"):
        load_config(cfg)
    cfg.write_text(base + '\n[anchor]\ntsa_urls = ["http://x/"]\nintervall_s = 5\n')
    with pytest.raises(ConfigError, match="unknown key anchor.intervall_s"):
        load_config(cfg)


def test_chain_new_writes_tsas_into_genesis(tmp_path, tsa: TsaFiles, capsys) -> None:
    from consortium.cli.main import main
    from consortium.node.genesis import load_genesis

    ca = tsa.dir / "ca.crt"
    assert main(["chain", "new", "--nodes", "1", "--dir", str(tmp_path / "c"), "--tsa", f"National TSA={ca}@1.2.3"]) == 0
    g = load_genesis(tmp_path / "c" / "node0" / "genesis.toml")
    assert g.tsas == (TrustedTsa("National TSA", tsa.ca_der, "1.2.3"),)
    assert main(["chain", "new", "--nodes", "1", "--dir", str(tmp_path / "d"), "--tsa", "x=/nonexistent.pem"]) != 0
    assert "cannot read /nonexistent.pem" in capsys.readouterr().err


def test_gov_propose_parses_tsa_params(tsa: TsaFiles) -> None:
    from consortium.cli.errors import CliError
    from consortium.cli.gov_cmd import parse_params

    assert parse_params("add_tsa", ["National TSA", str(tsa.dir / "ca.crt"), ""]) == ["National TSA", tsa.ca_der, ""]
    assert parse_params("remove_tsa", ["National TSA"]) == ["National TSA"]
    with pytest.raises(CliError, match="cannot read"):
        parse_params("add_tsa", ["x", "/nonexistent.pem", ""])
