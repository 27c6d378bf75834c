"""Invariants checked on every simulated run (the checker is what a failing seed reports).

* agreement: no two honest nodes commit different blocks at one height;
* every committed block carries a valid commit certificate and extends its parent;
* no honest node signs two different messages for one (height, view, phase);
* views never go backwards (per node, across restarts from persisted state);
* liveness (checked by the runner): after healing, every honest node reaches the same height.

"Honest" excludes Byzantine processes and every process sharing a key with a
twin, since twins are by construction one Byzantine signer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consortium.consensus.errors import InvalidCommitCertificate
from consortium.consensus.messages import Message
from consortium.consensus.verify import header_hash, verify_commit_certificate
from consortium.crypto.suite import CryptoSuite
from consortium.ledger.block import Block


@dataclass
class SafetyChecker:
    suite: CryptoSuite
    violations: list[str] = field(default_factory=list)
    committed: dict[int, bytes] = field(default_factory=dict)
    """height -> hash of the first honest commit there."""
    _signed: dict[tuple[bytes, int, int, int], bytes] = field(default_factory=dict)
    _position: dict[int, tuple[int, int]] = field(default_factory=dict)

    def fail(self, what: str) -> None:
        if len(self.violations) < 20:
            self.violations.append(what)

    def on_commit(self, pid: int, block: Block, honest: bool, how: str) -> None:
        """A process wrote ``block`` to its ledger (decided by its core, or obtained by sync)."""
        header = block.header
        try:
            verify_commit_certificate(header, self.suite)
        except InvalidCommitCertificate as exc:
            self.fail(f"process {pid} {how} block {header.number} with an invalid certificate: {exc}")
        if not honest:
            return
        h = header_hash(header, self.suite)
        first = self.committed.setdefault(header.number, h)
        if first != h:
            self.fail(f"agreement violated at height {header.number}: process {pid} {how} "
                      f"{h.hex()[:16]}, another honest node committed {first.hex()[:16]}")

    def on_sent(self, pid: int, msg: Message) -> None:
        """An honest process sent ``msg``: it must never contradict an earlier signature."""
        key = (msg.sender, msg.height, msg.view, msg.TAG)
        digest = msg.digest(self.suite)
        first = self._signed.setdefault(key, digest)
        if first != digest:
            self.fail(f"honest process {pid} double-signed {msg.NAME} at height {msg.height} view {msg.view}")

    def on_position(self, pid: int, height: int, view: int, *, restarted: bool = False) -> None:
        """(height, view) of a process after an event; never lower than before, even across restarts."""
        last = self._position.get(pid)
        if last is not None and (height, view) < last:
            self.fail(f"process {pid} went back from (height, view) {last} to {(height, view)}"
                      + (" on restart" if restarted else ""))
        self._position[pid] = (height, view)

    def forget_position(self, pid: int, durable: tuple[int, int]) -> None:
        """A crash loses what was not persisted: later positions are compared with the durable one."""
        self._position[pid] = durable
