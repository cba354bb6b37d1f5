"""Media made by the tests themselves (nothing is downloaded): WAV and PNG written by hand,
GIF and MP3 made with the ffmpeg the converter finds, and WebP decoded back to pixels."""

from __future__ import annotations

import asyncio
import base64
import io
import math
import struct
import subprocess
import wave
import zlib
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import orjson

from tests.messaging.servers import LoopbackServer
from wagate.messaging.convert import find_ffmpeg


def ffmpeg() -> str:
    exe = find_ffmpeg(None)
    assert exe is not None, "the dev environment installs imageio-ffmpeg"
    return exe


def wav(seconds: float, rate: int = 16000, hz: float = 440.0) -> bytes:
    """A mono 16-bit sine of `seconds`."""
    frames = int(seconds * rate)
    pcm = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * i / rate)))
        for i in range(frames)
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def png(width: int, height: int, rgba: tuple[int, int, int, int]) -> bytes:
    """A PNG of one colour (8-bit RGBA)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\0" + bytes(rgba) * width
    head = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def made(tmp: Path, name: str, *args: str) -> bytes:
    """The bytes of a file ffmpeg makes from a lavfi source (`args` before the output)."""
    out = tmp / name
    cmd = [ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(out)]
    subprocess.run(cmd, check=True, timeout=30)
    return out.read_bytes()


def gif(tmp: Path) -> bytes:
    """An animated GIF: 10 frames of 64x32."""
    return made(tmp, "a.gif", "-f", "lavfi", "-i", "testsrc=size=64x32:rate=10:duration=1")


def mp3(tmp: Path, seconds: float) -> bytes:
    return made(
        tmp, "a.mp3", "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}", "-b:a", "64k"
    )


def first_frame_rgba(tmp: Path, webp: bytes) -> tuple[int, int, bytes]:
    """(width, height, RGBA pixels) of a still WebP, decoded by ffmpeg."""
    src = tmp / "decode.webp"
    src.write_bytes(webp)
    probe = subprocess.run(
        [ffmpeg(), "-nostdin", "-hide_banner", "-i", str(src), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgba", "pipe:1"],
        capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    size = next(
        part
        for line in probe.stderr.decode().splitlines()
        if "Video:" in line
        for part in line.replace(",", " ").split()
        if "x" in part and part.split("x")[0].isdigit() and part.split("x")[-1].isdigit()
    )
    width, height = (int(v) for v in size.split("x"))
    return width, height, probe.stdout


def pixel(width: int, rgba: bytes, x: int, y: int) -> tuple[int, ...]:
    at = (y * width + x) * 4
    return tuple(rgba[at : at + 4])


class AudioConverter(LoopbackServer):
    """A loopback stand-in for Evolution's external audio converter (`/process-audio`).

    `reply(fields) -> (status, body)` answers each POST; `fields` are the multipart form's
    fields (bytes). Every POST is kept in `seen` as (headers, fields). A GET of a path in
    `files` answers its bytes (a converter that answers with a URL)."""

    def __init__(self, reply: Any, delay: float = 0.0) -> None:
        super().__init__()
        self.reply = reply
        self.delay = delay
        self.seen: list[tuple[dict[str, str], dict[str, bytes]]] = []
        self.files: dict[str, bytes] = {}

    @property
    def endpoint(self) -> str:
        """API_AUDIO_CONVERTER."""
        return self.url("/process-audio")

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(":") for line in lines[1:] if ":" in line)
        }
        method, path = lines[0].split(" ")[:2]
        if method == "GET":
            found = self.files.get(path)
            reply = found if found is not None else b"not here"
            writer.write(
                f"HTTP/1.1 {200 if found is not None else 404} X\r\n"
                f"content-type: audio/ogg\r\ncontent-length: {len(reply)}\r\n"
                "connection: close\r\n\r\n".encode()
                + reply
            )
            await writer.drain()
            return
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        form = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {headers.get('content-type', '')}\r\n\r\n".encode() + body
        )
        fields = {
            str(part.get_param("name", header="content-disposition")): bytes(
                part.get_payload(decode=True)
            )
            for part in form.iter_parts()
        }
        self.seen.append((headers, fields))
        if self.delay:
            await asyncio.sleep(self.delay)
        status, reply = self.reply(fields)
        writer.write(
            f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
            f"content-length: {len(reply)}\r\nconnection: close\r\n\r\n".encode()
            + reply
        )
        await writer.drain()


def converter_answer(audio: bytes, duration: float = 1.0) -> bytes:
    return orjson.dumps(
        {"duration": duration, "audio": base64.b64encode(audio).decode(), "format": "ogg"}
    )
