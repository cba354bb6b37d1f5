"""The converter on its own: the byte parsers (Ogg/Opus duration, GIF frames, WebP headers),
finding ffmpeg, its limits (deadline, output cap, busy, cancellation, temporary files) and
Evolution's external audio converter against a loopback server."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.messaging.samples import AudioConverter, converter_answer, ffmpeg, gif, made, png, wav
from wagate.domain.errors import BadRequest, Conflict, UpstreamFailed
from wagate.messaging import convert
from wagate.messaging.convert import (
    OPUS_MIME,
    Converter,
    as_is_voice,
    find_ffmpeg,
    gif_frames,
    ogg_opus_seconds,
    opus_head,
    webp_info,
    whole_seconds,
)
from wagate.messaging.media import Media

MB = 1024 * 1024


def converter(**kw: Any) -> Converter:
    args: dict[str, Any] = {"ffmpeg_path": None, "timeout": 30.0, "max_bytes": 64 * MB}
    return Converter(**{**args, **kw})


@pytest.fixture(scope="module")
def opus() -> bytes:
    """A 2 s voice note made by the converter (once for the module)."""

    async def make() -> bytes:
        return (await converter().voice(Media(wav(2.0), None, None), "audio")).data

    return asyncio.run(make())


@pytest.fixture
def private_tmp(tmp_path: Path) -> Iterator[Path]:
    """The converter's temporary directories go here, to be counted."""
    where = tmp_path / "tmp"
    where.mkdir()
    old = tempfile.tempdir
    tempfile.tempdir = str(where)
    try:
        yield where
    finally:
        tempfile.tempdir = old


# --- the parsers ----------------------------------------------------------------------------


def test_ogg_opus_duration_comes_from_the_last_granule(opus: bytes) -> None:
    assert opus_head(opus)
    seconds = ogg_opus_seconds(opus)
    assert seconds is not None and abs(seconds - 2.0) < 0.05
    # a stream cut in the middle of a page still has the pages before the cut
    cut = ogg_opus_seconds(opus[: len(opus) // 2])
    assert cut is not None and 0.3 < cut < 1.7
    assert ogg_opus_seconds(opus[:200]) == 0.0  # headers only
    assert ogg_opus_seconds(b"OggS" + b"\0" * 60) is None  # Ogg, but not Opus
    assert ogg_opus_seconds(wav(0.1)) is None
    assert [whole_seconds(s) for s in (0.0, 0.2, 1.49, 1.5, 2.006, 59.7)] == [0, 1, 1, 2, 2, 60]


def test_gif_frames_and_webp_headers(tmp_path: Path) -> None:
    assert gif_frames(gif(tmp_path)) == 2  # counting stops at two
    assert gif_frames(gif(tmp_path), stop=100) == 10
    one = made(tmp_path, "one.gif", "-f", "lavfi", "-i", "color=red:size=16x8", "-frames:v", "1")
    assert gif_frames(one) == 1
    assert gif_frames(png(4, 4, (0, 0, 0, 0))) == 0
    red = ["-f", "lavfi", "-i", "color=red:size=40x30", "-frames:v", "1"]
    lossy = made(tmp_path, "lossy.webp", *red, "-c:v", "libwebp", "-f", "webp")
    lossless = made(tmp_path, "ll.webp", *red, "-c:v", "libwebp", "-lossless", "1", "-f", "webp")
    assert lossy[12:16] == b"VP8 " and webp_info(lossy) == (False, 40, 30)
    assert lossless[12:16] == b"VP8L" and webp_info(lossless) == (False, 40, 30)
    assert webp_info(png(4, 4, (0, 0, 0, 0))) is None
    assert webp_info(b"RIFF\0\0\0\0WEBPVP8Z" + b"\0" * 20) is None


@given(st.binary(max_size=300))
def test_the_parsers_never_fail_on_garbage(data: bytes) -> None:
    for prefix in (b"", b"OggS\0\0", b"GIF89a", b"RIFF\0\0\0\0WEBPVP8X"):
        blob = prefix + data
        opus_head(blob)
        ogg_opus_seconds(blob)
        gif_frames(blob)
        webp_info(blob)


def test_as_is_voice_keeps_the_type_of_what_is_not_ogg_opus(opus: bytes) -> None:
    assert as_is_voice(Media(opus, None, None)).seconds == 2
    assert as_is_voice(Media(opus, None, None)).mimetype == OPUS_MIME
    mp3 = as_is_voice(Media(b"ID3....", "audio/mpeg", None))
    assert (mp3.mimetype, mp3.seconds) == ("audio/mpeg", None)


# --- finding ffmpeg -------------------------------------------------------------------------


def _executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_ffmpeg_is_found_setting_first_then_path_then_imageio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(convert, "_found", {})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    on_path = _executable(bin_dir / "ffmpeg")
    mine = _executable(tmp_path / "my-ffmpeg")
    plain = tmp_path / "plain"
    plain.write_text("not executable")
    monkeypatch.setenv("PATH", str(bin_dir))
    assert find_ffmpeg(str(mine)) == str(mine)
    assert find_ffmpeg("ffmpeg") == str(on_path)  # a name is looked up on the PATH
    assert find_ffmpeg(None) == str(on_path)
    assert find_ffmpeg(str(plain)) is None and find_ffmpeg(str(tmp_path)) is None
    assert find_ffmpeg(str(tmp_path / "missing")) is None

    # once found, kept: the PATH is not searched again
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_ffmpeg(None) == str(on_path)
    monkeypatch.setattr(convert, "_found", {})
    imageio = find_ffmpeg(None)
    assert imageio is not None and "imageio_ffmpeg" in imageio

    # nothing anywhere: a 400 saying how to get one
    monkeypatch.setattr(convert, "_found", {})
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    assert find_ffmpeg(None) is None
    with pytest.raises(BadRequest) as err:
        converter().ffmpeg("audio conversion")
    assert str(err.value) == (
        "audio conversion needs ffmpeg: set WAGATE_FFMPEG_PATH or install wagate[media]"
    )
    with pytest.raises(BadRequest) as err:
        converter(ffmpeg_path=str(plain)).ffmpeg("sticker conversion")
    assert f"WAGATE_FFMPEG_PATH={plain} is not an executable file" in str(err.value)


# --- ffmpeg's limits ------------------------------------------------------------------------


async def test_output_larger_than_the_limit_is_refused(private_tmp: Path) -> None:
    with pytest.raises(BadRequest) as err:
        await converter(max_bytes=20_000).voice(Media(wav(3.0), None, None), "audio")
    assert "audio: an Ogg/Opus voice note would be larger than the limit of 20000 bytes" in str(
        err.value
    )
    assert os.listdir(private_tmp) == []  # the temporary directory went too


async def test_a_turn_that_never_comes_is_a_409() -> None:
    slots = convert._slot_pool()
    taken = 0
    while not slots.locked():
        await slots.acquire()
        taken += 1
    try:
        with pytest.raises(Conflict) as err:
            await converter(timeout=0.2).voice(Media(wav(0.5), None, None), "audio")
        assert "the media converter stayed busy for 0.2 s" in str(err.value)
    finally:
        for _ in range(taken):
            slots.release()


async def test_a_cancelled_request_kills_ffmpeg(tmp_path: Path, private_tmp: Path) -> None:
    pid_file = tmp_path / "pid"
    slow = _executable(tmp_path / "slow", f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 30\n")
    task = asyncio.create_task(
        converter(ffmpeg_path=str(slow)).sticker(Media(png(4, 4, (1, 2, 3, 4)), None, None), "s")
    )
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.01)
    pid = int(pid_file.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert os.listdir(private_tmp) == []


async def test_evolutions_raw_pcm_input(tmp_path: Path) -> None:
    """A voice URL ending in .lpcm is 16-bit mono PCM at 24 kHz (Evolution's convention)."""
    pcm = wav(2.0, rate=24000)[44:]
    voice = await converter().voice(Media(pcm, None, "speech.lpcm"), "audio")
    assert voice.seconds == 2 and opus_head(voice.data)


async def test_a_binary_that_will_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = _executable(tmp_path / "broken", "#!/nonexistent/interpreter\n")
    with pytest.raises(BadRequest) as err:
        await converter(ffmpeg_path=str(broken)).voice(Media(wav(0.2), None, None), "audio")
    assert "audio: ffmpeg (" in str(err.value) and "could not be started" in str(err.value)


# --- Evolution's external audio converter ---------------------------------------------------


@pytest.fixture
async def external() -> AsyncIterator[AudioConverter]:
    server = await AudioConverter(lambda fields: (500, b"{}")).start()
    try:
        yield server
    finally:
        await server.stop()


async def test_the_external_converter_gets_base64_and_the_key(
    external: AudioConverter, opus: bytes
) -> None:
    external.reply = lambda fields: (200, converter_answer(opus, duration=7))
    source = wav(0.5)
    conv = converter(
        audio_api=external.endpoint, audio_api_key="k-123", ffmpeg_path="/nonexistent"
    )
    voice = await conv.voice(Media(source, "audio/wav", None), "audio")
    assert voice.data == opus and voice.mimetype == OPUS_MIME
    assert voice.seconds == 2  # read from the Ogg stream, not the converter's word
    ((headers, fields),) = external.seen
    assert headers["apikey"] == "k-123"
    assert headers["content-type"].startswith("multipart/form-data")
    assert base64.b64decode(fields["base64"]) == source and fields["format"] == b"ogg"
    # Ogg/Opus needs no conversion: the converter is not asked
    await conv.voice(Media(opus, None, None), "audio")
    assert len(external.seen) == 1


async def test_the_external_converter_may_answer_a_url(
    external: AudioConverter, opus: bytes
) -> None:
    external.files["/out/voice.ogg"] = opus
    external.files["/out/picture.png"] = png(4, 4, (0, 0, 0, 255))
    conv = converter(audio_api=external.endpoint)
    for path, says in (
        ("/out/voice.ogg", None),
        ("/out/picture.png", "did not answer Ogg/Opus audio"),
        ("/out/gone.ogg", "answered a URL that failed: "),
    ):
        external.reply = lambda fields, path=path: (
            200,
            orjson.dumps({"url": external.url(path)}),
        )
        if says is None:
            voice = await conv.voice(Media(wav(0.2), None, None), "audio")
            assert voice.data == opus and voice.seconds == 2
            continue
        with pytest.raises(UpstreamFailed) as err:
            await conv.voice(Media(wav(0.2), None, None), "audio")
        assert says in str(err.value), path
    assert "HTTP 404" in str(err.value)


@pytest.mark.parametrize(
    ("status", "body", "error", "says"),
    [
        (400, b'{"error":"invalid audio"}', BadRequest, "refused the audio (HTTP 400)"),
        (401, b'{"error":"bad key"}', UpstreamFailed, "answered HTTP 401"),
        (500, b"boom", UpstreamFailed, "answered HTTP 500: boom"),
        (200, b"not json", UpstreamFailed, "answered no audio"),
        (200, b'{"audio": "%%%"}', UpstreamFailed, "did not answer Ogg/Opus audio"),
        (200, b'{"duration": 3}', UpstreamFailed, "answered no audio"),
    ],
)
async def test_external_converter_failures(
    external: AudioConverter, status: int, body: bytes, error: type[Exception], says: str
) -> None:
    external.reply = lambda fields: (status, body)
    with pytest.raises(error) as err:
        await converter(audio_api=external.endpoint).voice(Media(wav(0.2), None, None), "audio")
    assert str(err.value).startswith("audio: the audio converter (API_AUDIO_CONVERTER)")
    assert says in str(err.value)


async def test_external_converter_deadline_and_size_cap(external: AudioConverter) -> None:
    external.reply = lambda fields: (200, b'{"audio": "' + b"A" * 200_000 + b'"}')
    with pytest.raises(UpstreamFailed) as err:
        await converter(audio_api=external.endpoint, max_bytes=50_000).voice(
            Media(wav(0.2), None, None), "audio"
        )
    assert "answer is larger than" in str(err.value)
    external.delay = 5
    with pytest.raises(UpstreamFailed) as err:
        await converter(audio_api=external.endpoint, timeout=0.3).voice(
            Media(wav(0.2), None, None), "audio"
        )
    assert "did not answer within 0.3 s" in str(err.value)


async def test_an_unreachable_external_converter() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conv = converter(audio_api=f"http://127.0.0.1:{port}/process-audio")
    with pytest.raises(UpstreamFailed) as err:
        await conv.voice(Media(wav(0.2), None, None), "audio")
    assert "failed (ConnectError)" in str(err.value)


def test_ffmpeg_is_on_hand_for_the_tests() -> None:
    """The dev environment installs imageio-ffmpeg, so these tests really convert."""
    assert os.access(ffmpeg(), os.X_OK)
