"""``consortium node backup`` / ``restore``: a consistent copy of a running node, checksummed.

The node holds its databases' locks, so the running node makes the copy itself when asked
over its admin socket (``DATA_DIR/admin.sock``, mode 0600: only its operator can ask).
Each LevelDB (ledger, anchors) is copied from one LevelDB snapshot — a consistent view even
while blocks commit — into a fresh database; the vote state is its latest record; the
node's config, genesis and certificates come along. Everything goes into one tar file whose
``MANIFEST.json`` lists each file's SHA-256 and the height and hash the ledger copy ends at.
The node's private key is NOT in it: keys stay in the organization's key storage, and a
restore takes the key from there (``--key``).

Restoring checks every checksum, opens the copied ledger and checks that its head is the
one the manifest names, then lays out a node folder; started, the node syncs the blocks
committed since the backup from its peers. Never run a restored copy while the original
node (same key) runs: two processes with one key would sign twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from consortium.encoding.hexbytes import to_hex
from consortium.node.vote_store import VoteStore
from consortium.storage.blockstore import BlockStore
from consortium.storage.kv import LevelDBStore, StorageError

FORMAT = "consortium-backup/1"
MANIFEST = "MANIFEST.json"
SOCKET_NAME = "admin.sock"


class BackupError(Exception):
    """The backup cannot be made or restored; the message says why and what to do."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _head(db_dir: Path, suite: Any) -> tuple[int, bytes]:
    kv = LevelDBStore(db_dir, create=False)
    try:
        head = BlockStore(kv, suite).head
    finally:
        kv.close()
    if head is None:
        raise BackupError(f"the ledger copy in {db_dir} has no blocks")
    return head.number, head.hash


def make_backup(node: Any, out: Path) -> dict[str, Any]:
    """Write the backup of the running ``node`` to ``out`` (a temp file, fsynced, then renamed).

    Call it in a worker thread: LevelDB snapshots stay consistent however the node writes meanwhile.
    """
    out = out.resolve()
    if out.is_dir():
        raise BackupError(f"{out} is a folder; give a file name for the backup")
    out.parent.mkdir(parents=True, exist_ok=True)
    config = node.config
    suite = node.ledger.suite
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=out.parent) as tmp:
        stage = Path(tmp) / "stage"
        data = stage / "data"
        data.mkdir(parents=True)
        # The vote state first, then the ledger: votes are never for a height above the ledger copy's
        # next one (a node refuses to start with vote state ahead of its ledger); older is just stale.
        state = node.votes.load()
        keys = node.ledger.kv.snapshot_copy(data / "ledger")
        anchors = getattr(node, "anchor_store", None)  # every node keeps the anchors it fetched or received
        if anchors is not None:
            anchors.kv.snapshot_copy(data / Path(anchors.kv.path).name)
        if state is not None:
            votes = VoteStore(data, suite)
            votes.save(state)
            votes.close()
        height, head = _head(data / "ledger", suite)
        for src, name in ((config.path, "config.toml"), (config.genesis_path, "genesis.toml"),
                          (config.cert_path, "node.crt"), (config.ca_cert_path, "ca.crt")):
            shutil.copy2(src, stage / name)
        files = {p.relative_to(stage).as_posix(): {"sha256": _sha256(p), "size": p.stat().st_size}
                 for p in sorted(stage.rglob("*")) if p.is_file()}
        manifest = {
            "format": FORMAT, "node": config.name, "nodeId": to_hex(node.node_id),
            "chainId": node.genesis.chain_id, "groupId": node.genesis.group_id,
            "genesisHash": to_hex(node.genesis.hash()), "height": height, "headHash": to_hex(head),
            "ledgerKeys": keys, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": files,
        }
        (stage / MANIFEST).write_text(json.dumps(manifest, indent=2))
        partial = Path(tmp) / "backup.tar"
        with tarfile.open(partial, "w") as tar:
            tar.add(stage / MANIFEST, arcname=MANIFEST)
            for rel in files:
                tar.add(stage / rel, arcname=rel)
        os.chmod(partial, 0o600)
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, out)
    return {"file": str(out), "node": config.name, "height": height, "headHash": to_hex(head),
            "bytes": out.stat().st_size, "sha256": _sha256(out)}


def restore_backup(backup: Path, target: Path, key: Path) -> dict[str, Any]:
    """Check ``backup`` and lay it out as a node folder ``target`` (new or empty), with ``key`` as its key."""
    from consortium.node.config import load_config
    from consortium.node.genesis import load_genesis
    from consortium.node.toml_io import ConfigError

    target = target.resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} exists and is not an empty folder; restore into a new folder")
    if not key.is_file():
        raise BackupError(f"--key {key}: no such file (the node's private key, from your key storage)")
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        try:
            with tarfile.open(backup, "r") as tar:
                names = tar.getnames()
                if MANIFEST not in names:
                    raise BackupError(f"{backup} is not a consortium backup (no {MANIFEST})")
                tar.extractall(target, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise BackupError(f"cannot read {backup}: {exc}") from None
        manifest = json.loads((target / MANIFEST).read_text())
        if manifest.get("format") != FORMAT:
            raise BackupError(f"{backup} has format {manifest.get('format')!r}; this version reads {FORMAT}")
        extra = set(names) - set(manifest["files"]) - {MANIFEST}
        if extra:
            raise BackupError(f"{backup} holds files its manifest does not list: {sorted(extra)[:3]}")
        for rel, want in manifest["files"].items():
            path = target / rel
            if not path.is_file() or _sha256(path) != want["sha256"]:
                raise BackupError(f"{backup} is damaged: {rel} does not match its SHA-256 in the manifest")
        (target / MANIFEST).unlink()
        doc = tomllib.loads((target / "config.toml").read_text())
        key_name = doc.get("tls", {}).get("key", "node.key")
        key_dest = (target / key_name).resolve()
        fd = os.open(key_dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.read_bytes())
        data_dir_name = doc.get("node", {}).get("data_dir", "data")
        if data_dir_name != "data":
            (target / "data").rename(target / data_dir_name)
        try:
            config = load_config(target / "config.toml")
            genesis = load_genesis(config.genesis_path)
            config.transport_config(genesis)  # the key must be the certificate's
        except ConfigError as exc:
            raise BackupError(f"the restored node does not check out: {exc}") from None
        if to_hex(genesis.hash()) != manifest["genesisHash"]:
            raise BackupError("the backup's genesis does not match its manifest")
        height, head = _head(config.data_dir / "ledger", genesis.suite)
        if (height, to_hex(head)) != (manifest["height"], manifest["headHash"]):
            raise BackupError(f"the ledger copy ends at {height} 0x{head.hex()[:12]}, not at the manifest's "
                              f"{manifest['height']} {manifest['headHash'][:14]}")
    except BaseException:
        for child in list(target.iterdir()) if target.exists() else []:  # leave no half-restored node
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        if created:
            target.rmdir()
        raise
    return {"dir": str(target), "node": manifest["node"], "height": height, "headHash": to_hex(head),
            "created": manifest["created"]}


__all__ = ["BackupError", "SOCKET_NAME", "StorageError", "make_backup", "restore_backup"]
