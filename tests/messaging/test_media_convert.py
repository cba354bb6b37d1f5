"""Voice notes and stickers from A to B over the API, really converted by ffmpeg: B hears an
Ogg/Opus push-to-talk audioMessage with its duration, and a 512x512 WebP sticker, and the bytes
B downloads are what WhatsApp wants. Then every way a conversion can fail, as a 4xx."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
from pathlib import Path
from typing import Any

from tests.messaging.conftest import B_NUMBER, Pair
from tests.messaging.samples import (
    AudioConverter,
    converter_answer,
    first_frame_rgba,
    gif,
    mp3,
    pixel,
    png,
    wav,
)
from wagate.messaging.convert import OPUS_MIME, ogg_opus_seconds, opus_head, webp_info

RED = (255, 0, 0, 255)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _text(r: Any) -> str:
    return str(r.json()["response"]["message"])


async def _download(p: Pair, key_id: str) -> tuple[bytes, dict[str, Any]]:
    """B's copy of a message A sent: B stores it in its own lane, after A's send answered, so
    a 404 is waited out (10 s at most)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        r = await p.h.client.post(
            f"/chat/getBase64FromMediaMessage/{p.b}", json={"message": {"key": {"id": key_id}}}
        )
        if r.status_code != 404 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    assert r.status_code == 201, r.text
    return base64.b64decode(r.json()["base64"]), r.json()


async def test_voice_notes_arrive_as_ogg_opus_with_their_duration(
    sqlite_pair: Pair, tmp_path: Path
) -> None:
    p, c = sqlite_pair, sqlite_pair.h.client
    sent: list[tuple[str, int, str]] = []  # (key id, seconds, how it was given)

    # a WAV as base64, an MP3 as a multipart upload
    r = await c.post(
        f"/message/sendWhatsAppAudio/{p.a}", json={"number": B_NUMBER, "audio": b64(wav(3.0))}
    )
    assert r.status_code == 201, r.text
    audio = r.json()["message"]["audioMessage"]
    assert audio["ptt"] is True and audio["mimetype"] == OPUS_MIME and audio["seconds"] == 3
    sent.append((r.json()["key"]["id"], 3, "wav"))
    r = await c.post(
        f"/message/sendWhatsAppAudio/{p.a}",
        data={"number": B_NUMBER},
        files={"file": ("note.mp3", mp3(tmp_path, 5.0), "audio/mpeg")},
    )
    assert r.status_code == 201, r.text
    sent.append((r.json()["key"]["id"], 5, "mp3"))

    upserts = await p.events(p.hook_b, "messages.upsert", 2)
    converted = b""
    for (key_id, seconds, given), upsert in zip(sent, upserts, strict=True):
        data = upsert["data"]
        assert data["key"]["id"] == key_id and data["messageType"] == "audioMessage", given
        heard = data["message"]["audioMessage"]
        assert heard["ptt"] is True and heard["mimetype"] == OPUS_MIME, given
        assert heard["seconds"] == seconds, given
        body, answer = await _download(p, key_id)
        assert body.startswith(b"OggS") and b"OpusHead" in body[:200], given
        assert opus_head(body)
        length = ogg_opus_seconds(body)
        assert length is not None and abs(length - seconds) < 0.1, (given, length)
        assert answer["mimetype"] == OPUS_MIME
        converted = converted or body

    # what B stored is the same message
    r = await c.post(f"/chat/findMessages/{p.b}", json={"where": {"messageType": "audioMessage"}})
    records = r.json()["messages"]["records"]
    assert sorted(rec["message"]["audioMessage"]["seconds"] for rec in records) == [3, 5]
    assert all(rec["message"]["audioMessage"]["ptt"] is True for rec in records)

    # Ogg/Opus is sent as it is; `encoding: false` sends anything as it is
    r = await c.post(
        f"/message/sendWhatsAppAudio/{p.a}", json={"number": B_NUMBER, "audio": b64(converted)}
    )
    assert r.status_code == 201, r.text
    assert r.json()["message"]["audioMessage"]["seconds"] == 3
    body, _ = await _download(p, r.json()["key"]["id"])
    assert body == converted
    raw_wav = wav(1.0)
    r = await c.post(
        f"/message/sendWhatsAppAudio/{p.a}",
        json={"number": B_NUMBER, "audio": b64(raw_wav), "encoding": False},
    )
    assert r.status_code == 201, r.text
    audio = r.json()["message"]["audioMessage"]
    assert audio["ptt"] is True and audio["mimetype"] == "audio/wav" and "seconds" not in audio
    body, _ = await _download(p, r.json()["key"]["id"])
    assert body == raw_wav

    # with Evolution's external converter set, it converts (ffmpeg is not needed)
    server = await AudioConverter(lambda fields: (200, converter_answer(converted, 3))).start()
    st = p.h.gateway.settings
    p.h.gateway.settings = st.model_copy(
        update={
            "audio_converter_url": server.endpoint,
            "audio_converter_key": "converter-key",
            "ffmpeg_path": str(tmp_path / "no-ffmpeg"),
        }
    )
    try:
        r = await c.post(
            f"/message/sendWhatsAppAudio/{p.a}",
            json={"number": B_NUMBER, "audio": b64(raw_wav)},
        )
        assert r.status_code == 201, r.text
        assert r.json()["message"]["audioMessage"]["seconds"] == 3
        ((headers, fields),) = server.seen
        assert headers["apikey"] == "converter-key"
        assert base64.b64decode(fields["base64"]) == raw_wav
        assert (await _download(p, r.json()["key"]["id"]))[0] == converted
    finally:
        p.h.gateway.settings = st
        await server.stop()


async def test_stickers_arrive_as_512_webp(sqlite_pair: Pair, tmp_path: Path) -> None:
    p, c = sqlite_pair, sqlite_pair.h.client
    wide = png(300, 150, RED)  # fitted to 512x256, padded to 512x512
    r = await c.post(
        f"/message/sendSticker/{p.a}", json={"number": B_NUMBER, "sticker": b64(wide)}
    )
    assert r.status_code == 201, r.text
    member = r.json()["message"]["stickerMessage"]
    assert member["mimetype"] == "image/webp" and member["isAnimated"] is False
    assert (member["width"], member["height"]) == (512, 512)
    still_id = r.json()["key"]["id"]

    r = await c.post(
        f"/message/sendSticker/{p.a}", json={"number": B_NUMBER, "sticker": b64(gif(tmp_path))}
    )
    assert r.status_code == 201, r.text
    assert r.json()["message"]["stickerMessage"]["isAnimated"] is True
    moving_id = r.json()["key"]["id"]

    upserts = await p.events(p.hook_b, "messages.upsert", 2)
    assert [u["data"]["messageType"] for u in upserts] == ["stickerMessage"] * 2
    assert upserts[0]["data"]["message"]["stickerMessage"]["isAnimated"] is False

    still, answer = await _download(p, still_id)
    assert answer["mimetype"] == "image/webp"
    assert webp_info(still) == (False, 512, 512)
    width, height, rgba = first_frame_rgba(tmp_path, still)
    assert (width, height) == (512, 512)
    assert pixel(width, rgba, 0, 0)[3] == 0  # transparent padding above the picture
    assert pixel(width, rgba, 256, 100)[3] == 0
    center = pixel(width, rgba, 256, 256)
    assert center[3] == 255 and center[0] > 240 and center[1] < 16 and center[2] < 16
    moving, _ = await _download(p, moving_id)
    assert moving[:4] == b"RIFF" and moving[8:12] == b"WEBP"
    assert webp_info(moving) == (True, 512, 512)
    assert len(still) <= 100_000 and len(moving) <= 500_000  # WhatsApp's sticker limits

    # WebP goes as it is; so does anything with notConvertSticker
    r = await c.post(
        f"/message/sendSticker/{p.a}", json={"number": B_NUMBER, "sticker": b64(still)}
    )
    assert r.status_code == 201, r.text
    assert (await _download(p, r.json()["key"]["id"]))[0] == still
    r = await c.post(
        f"/message/sendSticker/{p.a}",
        json={"number": B_NUMBER, "sticker": b64(wide), "notConvertSticker": True},
    )
    assert r.status_code == 201, r.text
    assert r.json()["message"]["stickerMessage"]["mimetype"] == "image/png"
    assert (await _download(p, r.json()["key"]["id"]))[0] == wide


def _slow_ffmpeg(tmp: Path) -> tuple[Path, Path]:
    """A fake ffmpeg that records its pid, then sleeps (the deadline must kill it)."""
    pid_file = tmp / "pid"
    script = tmp / "slow-ffmpeg"
    script.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 30\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, pid_file


async def test_every_conversion_failure_is_a_4xx(sqlite_pair: Pair, tmp_path: Path) -> None:
    p, h = sqlite_pair, sqlite_pair.h
    st = h.gateway.settings
    voice = {"number": B_NUMBER, "audio": b64(wav(1.0))}
    sticker = {"number": B_NUMBER, "sticker": b64(png(8, 8, RED))}

    async def send(route: str, body: dict[str, Any]) -> Any:
        return await h.client.post(f"/message/{route}/{p.a}", json=body)

    def expect(r: Any, status: int, says: str) -> None:
        assert r.status_code == status, r.text
        assert r.json()["status"] == status and r.json()["error"] == "Bad Request", r.text
        assert says in _text(r), r.text

    # corrupt media: ffmpeg cannot read it
    r = await send("sendWhatsAppAudio", {**voice, "audio": b64(os.urandom(4096))})
    expect(r, 400, "audio could not be converted to an Ogg/Opus voice note")
    r = await send("sendSticker", {**sticker, "sticker": b64(b"not an image" * 100)})
    expect(r, 400, "sticker could not be converted to a WebP sticker: ffmpeg cannot read it")
    r = await send("sendWhatsAppAudio", {**voice, "audio": b64(png(8, 8, RED))})
    expect(r, 400, "its format is not one this route accepts")

    try:
        # no ffmpeg: the setting names a path that does not exist
        h.gateway.settings = st.model_copy(update={"ffmpeg_path": str(tmp_path / "nope")})
        r = await send("sendWhatsAppAudio", voice)
        expect(r, 400, f"audio conversion needs ffmpeg: WAGATE_FFMPEG_PATH={tmp_path / 'nope'}")
        r = await send("sendSticker", sticker)
        expect(r, 400, "sticker conversion needs ffmpeg")
        # … but what needs no conversion still goes
        ogg = (await send("sendWhatsAppAudio", {**voice, "encoding": False})).status_code
        assert ogg == 201

        # a deadline: the slow "ffmpeg" is killed when it passes
        script, pid_file = _slow_ffmpeg(tmp_path)
        h.gateway.settings = st.model_copy(
            update={"ffmpeg_path": str(script), "media_convert_timeout": 0.5}
        )
        r = await send("sendSticker", sticker)
        expect(r, 400, "could not be converted to a WebP sticker within 0.5 s")
        pid = int(pid_file.read_text())
        await asyncio.sleep(0.05)
        assert not _alive(pid)
    finally:
        h.gateway.settings = st


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
