"""Byzantine sealers: an honest core underneath, a lying network card on top.

Each behaviour rewrites what its process sends (and may send on its own);
everything it forges is signed with its own key or with no valid key at all,
because that is all a real attacker has.

* ``equivocate``: as leader, proposes two different blocks to two halves of
  the network (sometimes one with a wrong state root); as voter, also votes
  for the other block to some peers;
* ``garbage``: random bytes, flipped bytes, broken signatures, forged
  certificates (prepares "from" others that it signed itself), messages
  signed by an outsider key;
* ``replay``: re-sends old messages (its own and others') from earlier views and heights;
* ``silent``: never proposes (a silent leader), otherwise follows the protocol.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import TYPE_CHECKING

from consortium.consensus.messages import (
    Commit,
    Message,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
)
from consortium.consensus.simulation.crypto import sim_key
from consortium.consensus.verify import header_hash
from consortium.ledger.block import Block

if TYPE_CHECKING:
    from consortium.consensus.simulation.world import SimProcess, World

OUTSIDER = sim_key("outsider", 0)
_REPLAY_MEMORY = 200


def _halves(rng: random.Random, pids: list[int]) -> tuple[list[int], list[int]]:
    shuffled = pids[:]
    rng.shuffle(shuffled)
    k = len(shuffled) // 2
    return shuffled[:k], shuffled[k:]


class Behaviour:
    """Honest by default: subclasses override what they lie about."""

    def outgoing(self, world: World, proc: SimProcess, msg: Message, dsts: list[int]) -> None:
        world.send_bytes(proc.pid, dsts, msg.encode())

    def on_receive(self, world: World, proc: SimProcess, payload: bytes) -> None:
        pass

    def on_tick(self, world: World, proc: SimProcess) -> None:
        pass


class Silent(Behaviour):
    def outgoing(self, world: World, proc: SimProcess, msg: Message, dsts: list[int]) -> None:
        if not isinstance(msg, (PrePrepare, NewView)):
            super().outgoing(world, proc, msg, dsts)


class Equivocate(Behaviour):
    def __init__(self) -> None:
        self._alt: dict[tuple[int, int], bytes] = {}

    def _alt_block(self, world: World, proc: SimProcess, height: int, view: int) -> Block | None:
        block = proc.ledger.build(view, proc.key.public_key, salt=10_000 + world.rng.randrange(1000))
        if block.header.number != height:
            return None
        if world.rng.randrange(3) == 0:  # a block no honest executor agrees with
            block = replace(block, header=replace(block.header, state_root=world.rng.randbytes(32)))
        self._alt[(height, view)] = header_hash(block.header, proc.key.suite)
        return block

    def outgoing(self, world: World, proc: SimProcess, msg: Message, dsts: list[int]) -> None:
        rng, key = world.rng, proc.key
        a, b = _halves(rng, dsts)
        if a and b:
            a.append(rng.choice(b))  # one peer hears both versions and can prove the equivocation
        other: Message
        if isinstance(msg, PrePrepare) and msg.view == 0:
            alt = self._alt_block(world, proc, msg.height, 0)

            if alt is not None:
                other = replace(msg, block_hash=header_hash(alt.header, key.suite), block=alt).signed_by(key)
                world.send_bytes(proc.pid, a, msg.encode())
                world.send_bytes(proc.pid, b, other.encode())
                return
        if isinstance(msg, NewView) and msg.block is not None and msg.block.header.view == msg.view:
            alt = self._alt_block(world, proc, msg.height, msg.view)
            if alt is not None:
                alt_hash = header_hash(alt.header, key.suite)
                pp = replace(msg.pre_prepare, block_hash=alt_hash).signed_by(key)
                other = replace(msg, pre_prepare=pp, block=alt).signed_by(key)
                world.send_bytes(proc.pid, a, msg.encode())
                world.send_bytes(proc.pid, b, other.encode())
                return
        if isinstance(msg, (Prepare, Commit)):
            alt_hash = self._alt.get((msg.height, msg.view)) or world.rng.randbytes(32)
            other = replace(msg, block_hash=alt_hash).signed_by(key)
            world.send_bytes(proc.pid, a, msg.encode())
            world.send_bytes(proc.pid, b, other.encode())
            return
        super().outgoing(world, proc, msg, dsts)


class Garbage(Behaviour):
    def outgoing(self, world: World, proc: SimProcess, msg: Message, dsts: list[int]) -> None:
        rng = world.rng
        choice = rng.randrange(8)
        if choice == 0:
            super().outgoing(world, proc, msg, dsts)
        elif choice == 1:
            world.send_bytes(proc.pid, dsts, rng.randbytes(rng.randint(0, 200)))
        elif choice == 2:
            data = bytearray(msg.encode())
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            world.send_bytes(proc.pid, dsts, bytes(data))
        elif choice == 3:
            world.send_bytes(proc.pid, dsts, replace(msg, signature=rng.randbytes(64)).encode())
        elif choice == 4:
            world.send_bytes(proc.pid, dsts, msg.signed_by(OUTSIDER).encode())
        elif choice == 5:
            world.send_bytes(proc.pid, dsts, self._forged_view_change(world, proc, msg).encode())
        elif choice == 6 and isinstance(msg, NewView):
            short = replace(msg, view_changes=msg.view_changes[:1]).signed_by(proc.key)
            world.send_bytes(proc.pid, dsts, short.encode())
        else:
            # A correct signature over someone else's identity: claims another sealer as sender.
            victim = world.rng.choice(world.sealer_keys)
            forged = replace(msg, sender=victim.public_key)
            forged = replace(forged, signature=proc.key.sign(forged.digest(proc.key.suite)))
            world.send_bytes(proc.pid, dsts, forged.encode())

    def _forged_view_change(self, world: World, proc: SimProcess, msg: Message) -> ViewChange:
        """A VIEW-CHANGE whose prepared certificate is made of prepares it signed in others' names."""
        fake_hash = world.rng.randbytes(32)
        height, view = msg.height, max(msg.view, 1)
        leader = world.leader_key(height, view - 1)
        pp = PrePrepare(msg.chain_id, msg.group_id, height, view - 1, leader.public_key, fake_hash)
        pp = replace(pp, signature=proc.key.sign(pp.digest(proc.key.suite)))
        prepares = []
        for k in world.sealer_keys:
            p = Prepare(msg.chain_id, msg.group_id, height, view - 1, k.public_key, fake_hash)
            prepares.append(replace(p, signature=proc.key.sign(p.digest(proc.key.suite))))
        vc = ViewChange(msg.chain_id, msg.group_id, height, view, b"", PreparedCertificate(pp, tuple(prepares)))
        return vc.signed_by(proc.key)


class Replay(Behaviour):
    def __init__(self) -> None:
        self._seen: list[bytes] = []

    def on_receive(self, world: World, proc: SimProcess, payload: bytes) -> None:
        if len(self._seen) < _REPLAY_MEMORY:
            self._seen.append(payload)
        else:
            self._seen[world.rng.randrange(_REPLAY_MEMORY)] = payload

    def on_tick(self, world: World, proc: SimProcess) -> None:
        if self._seen and world.rng.randrange(4) == 0:
            payload = world.rng.choice(self._seen)
            world.send_bytes(proc.pid, world.other_pids(proc.pid), payload)


def make_behaviour(kind: str) -> Behaviour:
    return {"equivocate": Equivocate, "garbage": Garbage, "replay": Replay, "silent": Silent}[kind]()

