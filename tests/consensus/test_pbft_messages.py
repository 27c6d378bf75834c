"""Wire format of consensus messages and of the persisted vote state: round trips and decoder fuzzing.

Decoders sit on untrusted bytes, so the only exception they may raise is their
own typed error (MalformedMessage, CorruptPersistedState); and a message that
does decode must never make the core raise, whatever it says.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.consensus.harness import CFG, Cluster

from consortium.consensus import (
    Commit,
    CorruptPersistedState,
    MalformedMessage,
    Message,
    NewView,
    PbftCore,
    PersistedState,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    StepResult,
    ViewChange,
    decode_message,
)
from consortium.consensus.messages import TAG_NEW_VIEW, TAG_PRE_PREPARE
from consortium.consensus.simulation.crypto import SIM_SUITE
from consortium.consensus.verify import header_hash
from consortium.encoding import canonical

CH, GR = CFG.chain_id, CFG.group_id
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def samples() -> tuple[Message, ...]:
    """One valid message of every kind (and shape), signed by the simulator's sealer keys."""
    c = Cluster(4, auto_app=False)
    keys = c.keys
    block = c.other_block(1, 1, 0)
    bh = header_hash(block.header, SIM_SUITE)
    pp = c.pre_prepare(1, block)
    prepares = tuple(Prepare(CH, GR, 1, 0, b"", bh).signed_by(keys[i]) for i in range(3))
    cert = PreparedCertificate(pp.without_block(), prepares)
    commit = Commit(CH, GR, 1, 0, b"", bh).signed_by(keys[0])
    vc_cert = ViewChange(CH, GR, 1, 1, b"", cert, block=block).signed_by(keys[0])
    vc_empty = ViewChange(CH, GR, 1, 1, b"", None).signed_by(keys[1])
    pp1 = PrePrepare(CH, GR, 1, 1, b"", bh).signed_by(keys[2])
    nv = NewView(CH, GR, 1, 1, b"", (vc_cert.without_block(), vc_empty, vc_empty), pp1,
                 block=block).signed_by(keys[2])
    return (pp, prepares[0], commit, vc_cert, vc_empty, nv)


@pytest.mark.parametrize("index", range(6))
def test_every_message_round_trips_byte_for_byte(index: int) -> None:
    msg = samples()[index]
    data = msg.encode()
    again = decode_message(data)
    assert type(again) is type(msg)
    assert again.encode() == data
    assert again.digest(SIM_SUITE) == msg.digest(SIM_SUITE)
    assert again.signature == msg.signature and again.sender == msg.sender


def test_signed_bytes_are_the_array_before_the_signature() -> None:
    pp = samples()[0]
    value = canonical.decode(pp.encode())
    assert value[0] == TAG_PRE_PREPARE
    assert canonical.encode(value[:7]) == pp.signing_bytes
    assert SIM_SUITE.verify(pp.sender, SIM_SUITE.hash(canonical.encode(value[:7])), value[7])


def test_embedded_messages_may_not_carry_blocks() -> None:
    nv = samples()[5]
    assert isinstance(nv, NewView)
    value = canonical.decode(nv.encode())
    assert value[0] == TAG_NEW_VIEW
    value[6][0][8] = nv.block.to_value()  # type: ignore[union-attr,index]
    with pytest.raises(MalformedMessage, match="embedded"):
        decode_message(canonical.encode(value))


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_malformed_message(data: bytes) -> None:
    try:
        decode_message(data)
    except MalformedMessage:
        pass


scalars = st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | \
    st.text(max_size=12) | st.binary(max_size=40)
values = st.recursive(scalars, lambda c: st.lists(c, max_size=4), max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(16, 24)), st.lists(values, min_size=5, max_size=10))
def test_arbitrary_canonical_arrays_with_our_tags_raise_only_malformed_message(tag: int, rest: list) -> None:
    try:
        decode_message(canonical.encode([tag, *rest]))
    except MalformedMessage:
        pass


def _paths(value: object, prefix: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    out = [prefix]
    if isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


def _set(value: object, path: tuple[int, ...], new: object) -> object:
    if not path:
        return new
    assert isinstance(value, list)
    copy = list(value)
    copy[path[0]] = _set(copy[path[0]], path[1:], new)
    return copy


@functools.cache
def _bystanders() -> Cluster:
    return Cluster(4, observers=1, auto_app=False)


def _step_everywhere(msg: Message) -> None:
    """A decodable message, however odd, gets a verdict from every kind of node and never an exception."""
    c = _bystanders()
    for i in (0, 1, 2, 4):  # replica, leader of view 0, leader of view 1, observer
        core = PbftCore(CFG, c.keys[i], sealers=c.sealers, height=1, parent_hash=c.genesis.hash)
        assert isinstance(core.step(msg), StepResult)
        while core.has_ready():
            core.ready()
            core.advance()


@FUZZ
@given(st.data())
def test_structurally_mutated_messages_raise_only_malformed_message_and_never_crash_the_core(data: st.DataObject
                                                                                             ) -> None:
    msg = data.draw(st.sampled_from(samples()))
    value = canonical.decode(msg.encode())
    path = data.draw(st.sampled_from(_paths(value)))
    mutated = _set(value, path, data.draw(values))
    try:
        decoded = decode_message(canonical.encode(mutated))  # type: ignore[arg-type]
    except MalformedMessage:
        return
    _step_everywhere(decoded)


@FUZZ
@given(st.data())
def test_byte_mutated_messages_raise_only_malformed_message_and_never_crash_the_core(data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(samples())).encode())
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(min_value=0, max_value=max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[pos] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
        elif op == "cut":
            del raw[pos:]
        else:
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
    try:
        decoded = decode_message(bytes(raw))
    except MalformedMessage:
        return
    _step_everywhere(decoded)


def test_a_re_signed_mutation_is_still_checked_for_meaning() -> None:
    """Valid signature, impossible content: a COMMIT whose seal is not over its block hash."""
    commit = samples()[2]
    assert isinstance(commit, Commit)
    c = Cluster(4, auto_app=False)
    odd = replace(commit, block_hash=bytes(32))  # the seal stays over the old hash
    odd = replace(odd, signature=c.keys[0].sign(odd.digest(SIM_SUITE)))  # but the message is signed
    assert c.nodes[1].core.step(odd).reason.startswith("COMMIT seal does not verify")


# --- persisted vote state ---------------------------------------------------------------------------


@functools.cache
def persisted_sample() -> bytes:
    c = Cluster(4)
    c.run(drop=lambda src, dst, m: isinstance(m, Commit))  # everyone prepared, nobody decided
    disk = c.nodes[0].disk
    assert disk is not None
    state = PersistedState.decode(disk, SIM_SUITE)
    assert state.prepared is not None and state.prepared_block is not None and len(state.signed) == 2
    return disk


def test_persisted_state_round_trips() -> None:
    data = persisted_sample()
    state = PersistedState.decode(data, SIM_SUITE)
    assert state.encode(SIM_SUITE) == data
    assert replace(state, prepared_block_encoding=None).encode(SIM_SUITE) == data


def test_persisted_state_detects_damage_and_truncation() -> None:
    data = persisted_sample()
    with pytest.raises(CorruptPersistedState, match="checksum"):
        PersistedState.decode(data[:-1] + bytes([data[-1] ^ 1]), SIM_SUITE)
    with pytest.raises(CorruptPersistedState):
        PersistedState.decode(data[: len(data) // 2], SIM_SUITE)
    with pytest.raises(CorruptPersistedState):
        PersistedState.decode(b"", SIM_SUITE)


@FUZZ
@given(st.binary(max_size=300))
def test_persisted_state_decoder_raises_only_its_error_on_arbitrary_bytes(data: bytes) -> None:
    try:
        PersistedState.decode(data, SIM_SUITE)
    except CorruptPersistedState:
        pass


@functools.cache
def persisted_body() -> object:
    return canonical.decode(persisted_sample()[:-32])


@FUZZ
@given(st.data())
def test_persisted_state_decoder_raises_only_its_error_on_well_checksummed_garbage(data: st.DataObject) -> None:
    """A checksum only catches accidents: structure is still validated behind it."""
    body = persisted_body()
    path = data.draw(st.sampled_from(_paths(body)))
    mutated = canonical.encode(_set(body, path, data.draw(values)))  # type: ignore[arg-type]
    try:
        PersistedState.decode(mutated + SIM_SUITE.hash(mutated), SIM_SUITE)
    except CorruptPersistedState:
        pass
