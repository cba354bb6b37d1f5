"""The framed pipe protocol: round trips, bodies kept as bytes, garbage refused."""

from __future__ import annotations

import asyncio

import pytest

from wagate.engines.neonize.wire import PREFIX, Frame, FrameError, decode, encode, read_frame


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_frames_round_trip_with_binary_bodies() -> None:
    media = bytes(range(256)) * 1000
    frames = [Frame({"op": "start", "id": 1, "sid": "a"}), Frame({"ev": "media"}, media)]
    reader = _reader(b"".join(encode(f) for f in frames))
    assert await read_frame(reader) == frames[0]
    second = await read_frame(reader)
    assert second is not None and second.body == media and second.head == {"ev": "media"}
    assert await read_frame(reader) is None


def test_decode_waits_for_a_whole_frame() -> None:
    data = encode(Frame({"re": 7, "ok": True}, b"xyz"))
    assert decode(data[:5]) == (None, data[:5])
    assert decode(data[:-1])[0] is None
    frame, rest = decode(data + b"tail")
    assert frame == Frame({"re": 7, "ok": True}, b"xyz") and rest == b"tail"


@pytest.mark.parametrize(
    "data",
    [
        PREFIX.pack(3, 0) + b"{no",  # not JSON
        PREFIX.pack(2, 0) + b"[]",  # not an object
        PREFIX.pack(1 << 30, 0),  # absurd header length
        PREFIX.pack(10, 0) + b"{}",  # ends inside the frame
        b"\x00\x00",  # ends inside the prefix
    ],
)
async def test_garbage_is_a_frame_error(data: bytes) -> None:
    with pytest.raises(FrameError):
        await read_frame(_reader(data))


def test_oversized_frames_are_refused_on_encode() -> None:
    with pytest.raises(FrameError):
        encode(Frame({}, b"x" * ((64 << 20) + 1)))
