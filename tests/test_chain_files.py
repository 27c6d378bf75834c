"""Chain generation (CA, node folders, genesis, accounts), config and genesis loading, the TOML writer."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import os
import stat
import tomllib
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given
from hypothesis import strategies as st

from consortium.cli import chain_cmd
from consortium.cli.errors import CliError
from consortium.crypto import load_key
from consortium.encoding import canonical
from consortium.network import PeerAddress, QueuePolicy, Transport
from consortium.network.certs import identity_from_cert, is_issued_by, load_cert, load_private_key, node_id_of
from consortium.node.chain_files import ChainFilesError, ChainSpec, add_node, new_chain
from consortium.node.config import load_config
from consortium.node.genesis import CommitteeMember, Genesis, GenesisError, Sealer, load_genesis
from consortium.node.toml_io import ConfigError, TomlWriteError, dumps


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("chains") / "c4"
    return new_chain(root, ChainSpec(nodes=4, admins=3, chain_id="evidence-chain", group_id="g1"),
                     timestamp_ms=1_700_000_000_000)


# --- chain new ------------------------------------------------------------------------------------

def test_files_exist_with_private_modes(chain) -> None:
    root = chain.root
    for i in range(4):  # one organization per node, each with its own CA
        assert mode(root / f"org{i}" / "ca" / "ca.key") == 0o600
        assert mode(root / f"org{i}" / "ca") == 0o700
        assert (root / f"org{i}" / "ca" / "ca.crt").is_file()
    for i in range(4):
        d = root / f"node{i}"
        for name in ("config.toml", "genesis.toml", "node.key", "node.crt", "ca.crt"):
            assert (d / name).is_file(), d / name
        assert mode(d / "node.key") == 0o600
        assert (d / "data").is_dir() and not any((d / "data").iterdir())
    assert not (root / "node4").exists()
    assert sorted(p.name for p in (root / "accounts").iterdir()) == ["admin0.json", "admin1.json", "admin2.json"]
    assert all(mode(p) == 0o600 for p in (root / "accounts").iterdir())
    # accounts/ only indexes the organizations' own key files: nothing is copied
    assert all(p.is_symlink() for p in (root / "accounts").iterdir())
    assert (root / "accounts" / "admin1.json").resolve() == root / "org1" / "accounts" / "admin0.json"
    assert not [p for p in root.iterdir() if p.name.startswith(".building")]


def test_certs_chain_to_their_organizations_ca_and_name_their_keys(chain) -> None:
    cas = [load_cert(chain.root / f"org{i}" / "ca" / "ca.crt") for i in range(4)]
    for i, entry in enumerate(chain.nodes):
        ca = cas[i]
        assert node_id_of(load_private_key(chain.root / f"org{i}" / "ca" / "ca.key")) == node_id_of(ca.public_key())
        d = chain.root / f"node{i}"
        cert = load_cert(d / "node.crt")
        assert is_issued_by(cert, ca)
        assert not any(is_issued_by(cert, other) for j, other in enumerate(cas) if j != i)
        assert (d / "ca.crt").read_bytes() == (chain.root / f"org{i}" / "ca" / "ca.crt").read_bytes()
        assert chain.genesis.sealers[i].org == f"org{i}"
        assert chain.genesis.organization(f"org{i}").certificate() == ca
        node_id = node_id_of(load_private_key(d / "node.key"))
        assert identity_from_cert(cert).node_id == node_id == entry.node_id == chain.genesis.sealers[i].node_id


def test_genesis_identical_on_all_nodes_and_as_specified(chain) -> None:
    texts = {(chain.root / f"node{i}" / "genesis.toml").read_bytes() for i in range(4)}
    assert len(texts) == 1
    g = load_genesis(chain.root / "node2" / "genesis.toml")
    assert g == chain.genesis
    assert (g.chain_id, g.group_id, g.crypto_suite, g.timestamp_ms) == ("evidence-chain", "g1", "ed25519-sha256",
                                                                        1_700_000_000_000)
    assert [s.endpoint for s in g.sealers] == [f"127.0.0.1:{30300 + i}" for i in range(4)]
    admins = [load_key(chain.root / "accounts" / f"admin{i}.json").address for i in range(3)]
    assert list(g.administrators) == admins
    assert g.committee == tuple(CommitteeMember(a, 1) for a in admins)
    assert g.committee_threshold == 2  # more than half of 3
    assert (g.max_txs_per_block, g.view_timeout_ms, g.block_limit_window, g.contracts) == (1000, 3000, 600,
                                                                                           ("evidence",))


def test_configs_load_with_ports_peers_and_resolved_paths(chain) -> None:
    for i in range(4):
        cfg = load_config(chain.root / f"node{i}" / "config.toml")
        d = (chain.root / f"node{i}").resolve()
        assert cfg.name == f"node{i}"
        assert (cfg.p2p.host, cfg.p2p.port, cfg.rpc.port) == ("127.0.0.1", 30300 + i, 20200 + i)
        assert cfg.p2p.peers == tuple(PeerAddress("127.0.0.1", 30300 + j, chain.nodes[j].node_id)
                                      for j in range(4) if j != i)  # pinned: only that node is accepted there
        assert (cfg.key_path, cfg.cert_path, cfg.ca_cert_path) == (d / "node.key", d / "node.crt", d / "ca.crt")
        assert (cfg.data_dir, cfg.genesis_path) == (d / "data", d / "genesis.toml")
        assert cfg.p2p.revoked_serials == frozenset() and cfg.p2p.queue_policy is QueuePolicy.DROP_OLDEST
        assert (cfg.log_level, cfg.txpool_limit, cfg.max_view_timeout_ms) == ("info", 15_000, 60_000)
        tc = cfg.transport_config(chain.genesis)
        assert tc.node_id == chain.nodes[i].node_id and tc.genesis_hash == chain.genesis.hash()


def test_config_loads_from_any_working_directory(chain, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(os.path.relpath(chain.root / "node1" / "config.toml"))
    assert cfg.key_path == (chain.root / "node1" / "node.key").resolve()


def test_refuses_to_overwrite_an_existing_chain(chain) -> None:
    before = (chain.root / "org0" / "ca" / "ca.key").read_bytes()
    with pytest.raises(ChainFilesError, match="node0 already exists: refusing to overwrite"):
        new_chain(chain.root, ChainSpec(nodes=2))
    assert (chain.root / "org0" / "ca" / "ca.key").read_bytes() == before


def test_refuses_a_dir_holding_only_a_ca(tmp_path) -> None:
    (tmp_path / "ca").mkdir()
    with pytest.raises(ChainFilesError, match="ca already exists"):
        new_chain(tmp_path, ChainSpec(nodes=1))


@pytest.mark.parametrize("kwargs, needle", [
    (dict(nodes=0), "--nodes must be 1-256"),
    (dict(nodes=4, p2p_port=65534), "must lie in 1-65535"),
    (dict(nodes=4, p2p_port=20202), "overlap RPC ports 20200-20203"),
    (dict(nodes=2, chain_id="bad id"), "--chain-id must be"),
    (dict(nodes=2, admins=0), "--admins must be"),
    (dict(nodes=2, host="a b"), "--host must be"),
])
def test_chain_spec_errors_say_what_to_fix(kwargs, needle) -> None:
    with pytest.raises(ChainFilesError, match=needle):
        ChainSpec(**kwargs)


async def test_generated_nodes_connect_over_tls(chain) -> None:
    """The generated CA, keys, certificates and genesis work together on real sockets."""
    cfgs = [load_config(chain.root / f"node{i}" / "config.toml").transport_config(chain.genesis) for i in (0, 1)]
    got: list[tuple[bytes, bytes]] = []

    async def inbox(peer: bytes, payload: bytes) -> None:
        got.append((peer, payload))

    a = Transport(dataclasses.replace(cfgs[0], listen_port=0, peers=()), inbox)
    await a.start()
    b = Transport(dataclasses.replace(cfgs[1], listen_port=0, peers=(PeerAddress("127.0.0.1", a.listen_port),)),
                  inbox)
    await b.start()
    try:
        async with asyncio.timeout(10):
            await b.wait_for_peers(1)
            assert b.send(chain.nodes[0].node_id, b"hello node0")
            while not got:
                await asyncio.sleep(0.01)
        assert got == [(chain.nodes[1].node_id, b"hello node0")]
    finally:
        await b.close()
        await a.close()


# --- add-node -------------------------------------------------------------------------------------

def test_add_node_issues_one_more_node(tmp_path) -> None:
    layout = new_chain(tmp_path / "c", ChainSpec(nodes=3, p2p_port=40000, rpc_port=41000))
    root = layout.root
    configs_before = {i: (root / f"node{i}" / "config.toml").read_bytes() for i in range(3)}
    entry = add_node(root)
    assert entry.name == "node3" and entry.p2p == PeerAddress("127.0.0.1", 40003) and entry.rpc_port == 41003
    cfg = load_config(root / "node3" / "config.toml")
    assert [(p.host, p.port) for p in cfg.p2p.peers] == [("127.0.0.1", 40000 + i) for i in range(3)]
    assert (root / "node3" / "genesis.toml").read_bytes() == (root / "node0" / "genesis.toml").read_bytes()
    assert entry.node_id not in load_genesis(cfg.genesis_path).sealer_ids  # an observer until governance
    assert is_issued_by(load_cert(root / "node3" / "node.crt"), load_cert(root / "org0" / "ca" / "ca.crt"))
    assert mode(root / "node3" / "node.key") == 0o600
    assert cfg.transport_config(layout.genesis).node_id == entry.node_id
    assert {i: (root / f"node{i}" / "config.toml").read_bytes() for i in range(3)} == configs_before
    second = add_node(root, host="localhost")
    assert second.name == "node4" and second.p2p == PeerAddress("localhost", 40004)
    assert ("127.0.0.1", 40003) in [(p.host, p.port) for p in load_config(root / "node4" / "config.toml").p2p.peers]


def test_add_node_needs_a_chain(tmp_path) -> None:
    with pytest.raises(ChainFilesError, match="is not a chain folder"):
        add_node(tmp_path)


# --- config errors --------------------------------------------------------------------------------

@pytest.fixture
def node_dir(tmp_path) -> Path:
    layout = new_chain(tmp_path / "c", ChainSpec(nodes=2))
    return layout.root / "node0"


def edit(cfg_path: Path, section: str, key: str, value: str | None) -> None:
    """Set ``key = value`` (``value`` is raw TOML) in ``[section]``, or delete it when value is None."""
    doc = tomllib.loads(cfg_path.read_text())
    table = doc.setdefault(section, {})
    if value is None:
        table.pop(key, None)
    else:
        table[key] = tomllib.loads(f"v = {value}")["v"]
    cfg_path.write_text(tomli_w.dumps(doc))


@pytest.mark.parametrize("section, key, value, needle", [
    ("p2p", "port", "'abc'", "config.toml: p2p.port must be an integer 1-65535, got 'abc'"),
    ("p2p", "port", "70000", "p2p.port must be an integer 1-65535, got 70000"),
    ("p2p", "port", None, "p2p.port is missing"),
    ("p2p", "prot", "1", "unknown key p2p.prot (known keys here:"),
    ("p2p", "peers", '["127.0.0.1"]', "p2p.peers [0] is not a peer address"),
    ("p2p", "peers", '"127.0.0.1:1"', "p2p.peers must be an array of strings"),
    ("p2p", "revoked_serials", '["12"]', "p2p.revoked_serials must hold certificate serials as 0x-hex strings"),
    ("p2p", "queue_policy", '"block"', "p2p.queue_policy must be one of drop-oldest, disconnect; got 'block'"),
    ("p2p", "send_queue_bytes", "2048", "p2p.send_queue_bytes (2048) must be at least max_frame_bytes"),
    ("rpc", "port", "30300", "p2p.port and rpc.port are both 30300"),
    ("tls", "key", '"missing.key"', "tls.key names"),
    ("node", "log_level", '"loud"', "node.log_level must be one of debug, info, warning, error"),
    ("txpool", "limit", "0", "txpool.limit must be an integer 1-10000000, got 0"),
])
def test_bad_config_names_file_key_and_fix(node_dir: Path, section, key, value, needle) -> None:
    cfg = node_dir / "config.toml"
    edit(cfg, section, key, value)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert needle in str(err.value)
    assert str(err.value).startswith(str(cfg.resolve()))


def test_config_revoked_serials_are_parsed(node_dir: Path) -> None:
    edit(node_dir / "config.toml", "p2p", "revoked_serials", '["0x1f", "0x0100"]')
    assert load_config(node_dir / "config.toml").p2p.revoked_serials == frozenset({0x1F, 0x100})


def test_config_file_level_errors(node_dir: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(node_dir / "nope.toml")
    (node_dir / "config.toml").write_text("[p2p\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(node_dir / "config.toml")
    (node_dir / "config.toml").write_text("[node]\n[tls]\n[p2p]\nport = 1\n[rpc]\nport = 2\n[extra]\n")
    with pytest.raises(ConfigError, match="unknown key extra"):
        load_config(node_dir / "config.toml")


def test_minimal_config_uses_defaults(node_dir: Path) -> None:
    (node_dir / "config.toml").write_text("[node]\n[tls]\n[p2p]\nport = 1\n[rpc]\nport = 2\n")
    cfg = load_config(node_dir / "config.toml")
    assert (cfg.p2p.port, cfg.rpc.port, cfg.p2p.peers, cfg.p2p.max_frame_bytes) == (1, 2, (), 16 * 1024 * 1024)


def test_transport_config_refuses_a_cert_of_another_key(tmp_path) -> None:
    layout = new_chain(tmp_path / "c", ChainSpec(nodes=2))
    n0, n1 = layout.root / "node0", layout.root / "node1"
    (n0 / "node.crt").write_bytes((n1 / "node.crt").read_bytes())
    with pytest.raises(ConfigError, match="is not the certificate of tls.key"):
        load_config(n0 / "config.toml").transport_config(layout.genesis)


# --- genesis --------------------------------------------------------------------------------------

def test_genesis_round_trips_and_hash_ignores_formatting(chain) -> None:
    g = chain.genesis
    text = g.to_toml()
    assert Genesis.from_toml(text) == g
    reformatted = "\n\n# a comment\n" + "\n".join("   " + line.replace(" = ", "=") for line in text.splitlines())
    assert Genesis.from_toml(reformatted).hash() == g.hash()
    moved = dataclasses.replace(g, sealers=tuple(Sealer(s.node_id, "10.0.0.9:1", s.org) for s in g.sealers))
    assert moved.hash() == g.hash()  # endpoints are informational
    assert dataclasses.replace(g, block_limit_window=601).hash() != g.hash()
    assert dataclasses.replace(g, sealers=g.sealers[::-1]).hash() != g.hash()  # order is leader rotation
    assert g.hash() == hashlib.sha256(canonical.encode(g.canonical_value())).digest()


@pytest.mark.parametrize("change, needle", [
    (dict(committee_threshold=4), "committee_threshold must be an integer 1-3, got 4"),
    (dict(sealers=()), "there must be 1-256 sealers"),
    (dict(chain_id=""), "chain_id must be"),
    (dict(crypto_suite="sm2-sm3"), "unknown crypto suite 'sm2-sm3'"),
    (dict(view_timeout_ms=5), "view_timeout_ms must be an integer 100-600000"),
    (dict(contracts=("evidence", "evidence")), "contracts must be distinct"),
])
def test_genesis_validation(chain, change, needle) -> None:
    with pytest.raises(GenesisError, match=needle):
        dataclasses.replace(chain.genesis, **change)


def test_genesis_file_errors_name_the_file(chain, tmp_path) -> None:
    text = chain.genesis.to_toml()
    path = tmp_path / "genesis.toml"
    path.write_text(text.replace("committee_threshold = 2", "committee_threshold = 9"))
    with pytest.raises(GenesisError, match=rf"{path}: committee_threshold must be an integer 1-3"):
        load_genesis(path)
    first = chain.genesis.sealers[0].node_id.hex()
    path.write_text(text.replace(first, first[:-2]))
    with pytest.raises(ConfigError, match=r"sealer\[0\]\.node_id: expected 32 bytes"):
        load_genesis(path)
    second = chain.genesis.sealers[1].node_id.hex()
    path.write_text(text.replace(second, first))
    with pytest.raises(GenesisError, match="a sealer is listed twice"):
        load_genesis(path)
    path.write_text(text.replace("[contracts]", "[contract]"))
    with pytest.raises(ConfigError, match="contracts is missing"):
        load_genesis(path)


# --- TOML writer ----------------------------------------------------------------------------------

keys = st.text(min_size=1, max_size=12).filter(lambda k: all(not 0xD800 <= ord(c) <= 0xDFFF for c in k))
texts = st.text(max_size=30)
ints = st.integers(-(2**63), 2**63 - 1)
scalars = st.booleans() | ints | texts
arrays = st.lists(scalars, max_size=5) | st.lists(st.lists(ints, max_size=3), max_size=3)
tables = st.dictionaries(keys, scalars | arrays, max_size=6)
nested = st.dictionaries(keys, scalars | arrays | tables, max_size=4)
documents = st.dictionaries(keys, scalars | arrays | tables | nested | st.lists(tables, min_size=1, max_size=3),
                            max_size=6)


@given(documents)
def test_toml_writer_round_trips_through_tomllib(doc: dict) -> None:
    assert tomllib.loads(dumps(doc, comment="generated\nfor a test")) == doc


def test_toml_writer_refuses_what_it_cannot_write() -> None:
    for bad in ({"a": 1.5}, {"a": 2**63}, {"t": {"nested": {"x": -(2**63) - 1}}}, {"a": [{"x": 1}, b"x"]},
                {"a": "\ud800"}, {"t": [{"\ud800": 1}]}):
        with pytest.raises(TomlWriteError):
            dumps(bad)


# --- CLI ------------------------------------------------------------------------------------------

def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="consortium")
    chain_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_cli_new_and_add_node(tmp_path, capsys) -> None:
    d = tmp_path / "cli-chain"
    assert run_cli("chain", "new", "--nodes", "2", "--dir", str(d), "--p2p-port", "31000", "--rpc-port", "32000",
                   "--chain-id", "c9", "--admins", "2", "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["chain_id"] == "c9" and [n["p2p"] for n in info["nodes"]] == ["127.0.0.1:31000", "127.0.0.1:31001"]
    assert info["genesis_hash"] == "0x" + load_genesis(d / "node0" / "genesis.toml").hash().hex()
    assert len(info["administrators"]) == 2
    assert run_cli("chain", "add-node", "--dir", str(d)) == 0
    assert "node2 created" in capsys.readouterr().out
    with pytest.raises(CliError, match="already exists: refusing to overwrite"):
        run_cli("chain", "new", "--nodes", "2", "--dir", str(d))
    with pytest.raises(CliError, match="overlap"):
        run_cli("chain", "new", "--nodes", "2", "--dir", str(tmp_path / "x"), "--p2p-port", "20201")
    assert run_cli("chain", "new", "--nodes", "1", "--dir", str(tmp_path / "y")) == 0
    assert "created in" in capsys.readouterr().out


def test_genesis_pins_the_interpreter_and_nodes_refuse_another(tmp_path) -> None:
    import sys

    import pytest

    from consortium.node.genesis import GenesisError, load_genesis
    from consortium.node.runtime import check_interpreter

    layout_dir = tmp_path / "pinned"
    from consortium.node.chain_files import ChainSpec, new_chain

    new_chain(layout_dir, ChainSpec(nodes=1, host="127.0.0.1", p2p_port=40000, rpc_port=41000,
                                    chain_id="chain0", group_id="group0", admins=1))
    genesis = load_genesis(layout_dir / "node0" / "genesis.toml")
    assert genesis.python == f"{sys.version_info.major}.{sys.version_info.minor}"
    check_interpreter(genesis)  # the interpreter that made the chain may run it
    import dataclasses

    with pytest.raises(GenesisError, match=r"CPython 3\.11 .* but this is CPython 3\.99"):
        check_interpreter(dataclasses.replace(genesis, python="3.11"), (3, 99))
    check_interpreter(dataclasses.replace(genesis, python=""), (3, 99))  # unpinned chains run anywhere


# --- multi-host packages (build_chain.sh -l) -------------------------------------------------------

def test_multi_host_packages_hold_only_their_own_keys(tmp_path) -> None:
    from consortium.node.chain_files import new_multi_host, parse_hosts

    layout = new_multi_host(tmp_path / "mh", parse_hosts("10.0.0.1:2, 10.0.0.2:1,10.0.0.3:1"), p2p_port=31000,
                            rpc_port=32000)
    assert sorted(p.name for p in layout.root.iterdir()) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    secrets: dict[bytes, str] = {}
    for package in layout.root.iterdir():
        for path in package.rglob("*"):
            if path.name == "node.key" or path.name == "ca.key":
                secrets.setdefault(path.read_bytes(), package.name)
                assert secrets[path.read_bytes()] == package.name
            elif path.suffix == ".json":
                assert path.parent.parent.name == f"org-{package.name}"  # its own admin account only
    g = layout.genesis
    assert [o.name for o in g.organizations] == ["org-10.0.0.1", "org-10.0.0.2", "org-10.0.0.3"]
    assert [s.endpoint for s in g.sealers] == ["10.0.0.1:31000", "10.0.0.1:31001", "10.0.0.2:31000", "10.0.0.3:31000"]
    assert len({(layout.root / h / "genesis.toml").read_bytes() for h in ("10.0.0.1", "10.0.0.2")}) == 1
    cfg = load_config(layout.root / "10.0.0.1" / "node1" / "config.toml")
    assert (cfg.p2p.host, cfg.p2p.port, str(cfg.p2p.endpoint)) == ("0.0.0.0", 31001, "10.0.0.1:31001")
    assert cfg.rpc.host == "127.0.0.1"
    assert sorted(str(p) for p in cfg.p2p.peers) == ["10.0.0.1:31000", "10.0.0.2:31000", "10.0.0.3:31000"]
    assert all(p.node_id is not None for p in cfg.p2p.peers)  # pinned to the node genesis names there


@pytest.mark.parametrize("text, needle", [
    ("10.0.0.1", "each item must be HOST:COUNT"), ("10.0.0.1:0", "COUNT 1-64"), ("a b:1", "HOST:COUNT"),
    ("10.0.0.1:1,10.0.0.1:2", "listed twice"),
])
def test_bad_host_lists(text, needle) -> None:
    from consortium.node.chain_files import parse_hosts

    with pytest.raises(ChainFilesError, match=needle):
        parse_hosts(text)
