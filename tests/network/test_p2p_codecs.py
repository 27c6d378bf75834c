"""Decoders of untrusted bytes (frames, envelope, hello) fuzzed with hypothesis, plus the send queue."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.network import Envelope, EnvelopeError, FrameError, FrameTooLarge, HelloError, QueuePolicy
from consortium.network.frames import FrameDecoder, decode_header, encode_frame, read_frame
from consortium.network.hello import Hello
from consortium.network.send_queue import QueueOverflow, SendQueue

payloads = st.lists(st.binary(max_size=300), max_size=8)


@given(payloads, st.data())
def test_frames_round_trip_through_any_chunking(items: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(p, 300) for p in items)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = FrameDecoder(300)
    out: list[bytes] = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        out += decoder.feed(stream[prev:cut])
        prev = cut
    assert out == items
    assert decoder.at_boundary()


@given(st.binary(max_size=2000), st.integers(0, 512))
def test_frame_decoder_fuzz_raises_only_frame_errors(data: bytes, limit: int) -> None:
    decoder = FrameDecoder(limit)
    try:
        for payload in decoder.feed(data):
            assert len(payload) <= limit
    except FrameError:
        pass
    assert decoder.buffered <= max(len(data), 4)


def test_oversize_header_is_refused_before_the_payload_arrives() -> None:
    decoder = FrameDecoder(100)
    with pytest.raises(FrameTooLarge, match="announces 101 bytes; the limit is 100"):
        decoder.feed((101).to_bytes(4, "big"))
    with pytest.raises(FrameTooLarge):
        encode_frame(b"x" * 101, 100)
    assert decode_header(b"\x00\x00\x00\x64", 100) == 100
    with pytest.raises(FrameError):
        decode_header(b"\x00\x00\x64", 100)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_read_frame_fuzz_raises_only_typed_errors(data: bytes) -> None:
    async def run() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        while True:
            try:
                payload = await read_frame(reader, 256)
            except EOFError:
                return
            except FrameError:
                return
            assert len(payload) <= 256

    asyncio.run(run())


async def test_read_frame_distinguishes_clean_eof_from_truncation() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(encode_frame(b"abc") + b"\x00\x00\x00\x05ab")
    reader.feed_eof()
    assert await read_frame(reader, 100) == b"abc"
    with pytest.raises(FrameError, match="2 of 5 bytes"):
        await read_frame(reader, 100)
    clean = asyncio.StreamReader()
    clean.feed_eof()
    with pytest.raises(EOFError):
        await read_frame(clean, 100)


@given(st.integers(1, 65535), st.binary(max_size=200))
def test_envelope_round_trip(kind: int, body: bytes) -> None:
    env = Envelope(kind, body)
    assert Envelope.decode(env.encode()) == env


@given(st.binary(max_size=300))
def test_envelope_decoder_fuzz_raises_only_envelope_errors(data: bytes) -> None:
    try:
        env = Envelope.decode(data)
    except EnvelopeError:
        return
    assert env.encode() == data  # anything accepted is canonical


@pytest.mark.parametrize("bad", [b"", b"\x92\x00\xc4\x00", b"\x92\xc3\xc4\x00", b"\x92\x01\xa1x", b"\x91\x01",
                                 b"\x93\x01\xc4\x00\x00", b"\x92\xcd\xff\xff\xc4\x00\x00"])
def test_envelope_refuses_malformed(bad: bytes) -> None:
    with pytest.raises(EnvelopeError):
        Envelope.decode(bad)


def test_envelope_constructor_validates() -> None:
    with pytest.raises(ValueError):
        Envelope(0, b"")
    with pytest.raises(TypeError):
        Envelope(1, "text")  # type: ignore[arg-type]


hellos = st.builds(Hello, st.text(min_size=1, max_size=64), st.binary(min_size=32, max_size=32),
                   st.binary(min_size=32, max_size=32), st.binary(min_size=16, max_size=16))


@given(hellos)
def test_hello_round_trip(hello: Hello) -> None:
    assert Hello.decode(hello.encode()) == hello


@given(st.binary(max_size=300) | hellos.map(lambda h: h.encode()).flatmap(
    lambda b: st.integers(0, len(b) - 1).map(lambda i: b[:i] + bytes([b[i] ^ 0x41]) + b[i + 1:])))
def test_hello_decoder_fuzz_raises_only_hello_errors(data: bytes) -> None:
    try:
        hello = Hello.decode(data)
    except HelloError:
        return
    assert hello.encode() == data


def test_hello_of_another_version_names_the_problem() -> None:
    from consortium.encoding import canonical

    raw = canonical.encode(["consortium/p2p", 2, "c", b"\x00" * 32, b"\x00" * 32, b"\x00" * 16])
    with pytest.raises(HelloError, match="version 2 is not supported"):
        Hello.decode(raw)
    with pytest.raises(HelloError, match="another protocol"):
        Hello.decode(canonical.encode(["http", 1]))


async def test_send_queue_drop_oldest_keeps_the_newest() -> None:
    q = SendQueue(max_frames=3, max_bytes=100, policy=QueuePolicy.DROP_OLDEST)
    for i in range(5):
        q.put(b"%d" % i)
    assert (len(q), q.dropped, q.nbytes) == (3, 2, 3)
    assert await q.get_batch(1000) == [b"2", b"3", b"4"]
    q.put(b"a" * 60)
    q.put(b"b" * 60)  # byte bound: the 60-byte frame before it goes
    assert q.dropped == 3
    assert await q.get_batch(1000) == [b"b" * 60]
    with pytest.raises(ValueError):
        q.put(b"x" * 101)


async def test_send_queue_disconnect_policy_raises_and_close_drains() -> None:
    q = SendQueue(max_frames=2, max_bytes=100, policy=QueuePolicy.DISCONNECT)
    q.put(b"a")
    q.put(b"b")
    with pytest.raises(QueueOverflow):
        q.put(b"c")
    q.close()
    with pytest.raises(QueueOverflow):
        q.put(b"d")
    assert await q.get_batch(1) == [b"a"]  # batches respect max_bytes but hold at least one frame
    assert await q.get_batch(1) == [b"b"]
    assert await q.get_batch(1) == []


async def test_send_queue_get_waits_for_a_put_and_handover_keeps_order() -> None:
    q = SendQueue(max_frames=10, max_bytes=100)
    getter = asyncio.create_task(q.get_batch(100))
    await asyncio.sleep(0)
    assert not getter.done()
    q.put(b"new")
    assert await getter == [b"new"]
    q.put(b"newer")
    q.extend_front([b"old1", b"old2"])
    assert await q.get_batch(100) == [b"old1", b"old2", b"newer"]
