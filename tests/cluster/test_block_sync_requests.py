"""Block sync asks for each missing block once (BlockSync request bookkeeping, in process).

Seen in the SIGKILL cluster test before the fix: a restarted node asked three
peers in a row for overlapping ranges (86..114, 95..114, 98..114) within
200 ms, because a request counted as done when its response arrived, while the
driver was still applying the blocks; every STATUS then triggered a new
request for blocks already on their way. With full blocks and a long lag that
multiplies up to 8 MB responses from every peer.
"""

from __future__ import annotations

from tests.helpers.chainmaker import make_chain

from consortium.crypto.suite import DEFAULT_SUITE
from consortium.network.envelope import Envelope, MessageKind
from consortium.node import wire
from consortium.node.sync import REQUEST_TIMEOUT_S, BlockSync

PEER_A, PEER_B = b"\xaa" * 32, b"\xbb" * 32
CHAIN = [block for block, _ in make_chain(80, n_txs=1)]


class Head:
    """What BlockSync reads of the ledger: the height (advanced by the test as the driver would)
    and the chain's suite (responses are decoded under it)."""

    suite = DEFAULT_SUITE

    def __init__(self) -> None:
        self.height = 0

    def block(self, number: int):
        return CHAIN[number] if number <= self.height else None


def status(height: int) -> bytes:
    return wire.encode_status(wire.Status(height, CHAIN[min(height, len(CHAIN) - 1)].hash))


def requests(sent: list[tuple[bytes | None, bytes]]) -> list[tuple[bytes | None, tuple[int, int]]]:
    out = []
    for to, payload in sent:
        env = Envelope.decode(payload)
        if env.kind == MessageKind.BLOCK_REQUEST:
            out.append((to, wire.decode_block_request(env.body)))
    return out


def make() -> tuple[BlockSync, Head, list, list]:
    head = Head()
    sent: list[tuple[bytes | None, bytes]] = []
    delivered: list[tuple[bytes, tuple]] = []
    sync = BlockSync(head, lambda to, payload: sent.append((to, payload)),  # type: ignore[arg-type]
                     lambda peer, blocks: delivered.append((peer, blocks)))
    return sync, head, sent, delivered


def test_blocks_being_applied_are_not_asked_for_again() -> None:
    sync, head, sent, delivered = make()
    sync.on_status(PEER_A, status(79))
    assert requests(sent) == [(PEER_A, (1, wire.MAX_SYNC_BATCH))]

    sync.on_status(PEER_B, status(79))  # waiting for the answer: no second request
    assert len(requests(sent)) == 1

    sync.on_response(PEER_A, wire.encode_blocks(CHAIN[1:65]))
    assert len(delivered) == 1 and delivered[0][1][0].number == 1
    for h in (0, 10, 40, 63):  # the driver applies them one by one; peers keep announcing
        head.height = h
        sync.on_status(PEER_B, status(79))
        sync.on_status(PEER_A, status(79))
    assert len(requests(sent)) == 1, requests(sent)

    head.height = 64  # all applied: now the rest
    sync.on_status(PEER_B, status(79))
    assert requests(sent)[1:] == [(PEER_B, (65, 15))]


def test_a_peer_that_does_not_answer_is_replaced_after_the_timeout(monkeypatch) -> None:
    import consortium.node.sync as sync_module

    now = [1000.0]
    monkeypatch.setattr(sync_module.time, "monotonic", lambda: now[0])
    sync, head, sent, _ = make()
    sync.on_status(PEER_A, status(79))
    sync.on_status(PEER_B, status(78))
    assert requests(sent) == [(PEER_A, (1, wire.MAX_SYNC_BATCH))]
    now[0] += REQUEST_TIMEOUT_S + 0.1
    sync.on_status(PEER_B, status(78))
    assert requests(sent)[1:] == [(PEER_B, (1, wire.MAX_SYNC_BATCH))]


def test_a_partial_answer_is_followed_by_a_request_for_the_rest() -> None:
    sync, head, sent, delivered = make()
    sync.on_status(PEER_A, status(79))
    sync.on_response(PEER_A, wire.encode_blocks(CHAIN[1:11]))  # capped by size: 10 of 64
    head.height = 10
    sync.on_status(PEER_A, status(79))
    assert requests(sent)[1:] == [(PEER_A, (11, wire.MAX_SYNC_BATCH))]
