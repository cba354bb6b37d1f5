"""Media conversion for the send routes: voice notes to Ogg/Opus, stickers to WebP.

WhatsApp plays a voice note (`audioMessage` with `ptt`) only when it is Ogg/Opus, and shows a
sticker only when it is WebP; Evolution converts what it is given, and so does wagate:

- ffmpeg, run as a subprocess, is found once per setting: `WAGATE_FFMPEG_PATH`, else `ffmpeg`
  on the PATH, else the binary of the optional `imageio-ffmpeg` package (`wagate[media]`).
  It reads a temporary file (MP4/M4A need a seekable input) limited to the protocol `file`
  and to the demuxers of the expected media (so a crafted input cannot make ffmpeg open a
  playlist, another file or the network), and writes at most `WAGATE_MEDIA_MAX_BYTES`,
  within `WAGATE_MEDIA_CONVERT_TIMEOUT_SECONDS` (then it is killed). At most one ffmpeg per
  CPU runs at a time; waiting for a turn counts against the same deadline.
- Evolution's external converter (`API_AUDIO_CONVERTER`, `API_AUDIO_CONVERTER_KEY`) takes
  over voice notes when set: a multipart POST of the audio as `base64` (with `format=ogg`)
  and the key in an `apikey` header, answered by JSON `{"audio": base64, "duration": s}`
  (newer converters may answer `{"url": …}` instead, which is fetched like a media URL).
  The answer must be Ogg/Opus; its duration is read from the stream like ffmpeg's.

Input that already is what WhatsApp wants (Ogg/Opus audio, WebP stickers) is sent as it is.
A voice note's `seconds` is read from the Ogg stream itself (the last granule position less
the Opus pre-skip), so no ffprobe is needed.

Failures are 4xx naming the field: no converter (400, saying how to get one), input ffmpeg
cannot read (400), a conversion running past the deadline (400) or never getting a turn
(409). An external converter that fails or answers nonsense is a 502 (UpstreamFailed).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import re
import shutil
import struct
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wagate.domain.errors import BadRequest, Conflict, UpstreamFailed
from wagate.messaging import content as c
from wagate.messaging.media import Media, TooLarge, fetch, read_at_most, sniff

if TYPE_CHECKING:
    from wagate.config import Settings

OPUS_MIME = "audio/ogg; codecs=opus"
WEBP_MIME = "image/webp"
STICKER_BOX = 512
STICKER_MAX_SECONDS = 10
STICKER_FPS = 15
# Evolution's voice-note encoding (processAudio in whatsapp.baileys.service.ts)
VOICE_ARGS = (
    "-map", "0:a:0", "-vn", "-sn", "-dn",
    "-c:a", "libopus", "-b:a", "128k", "-ar", "48000", "-ac", "1",
    "-application", "voip", "-compression_level", "10",
    "-avoid_negative_ts", "make_zero",
    "-map_metadata", "-1", "-map_chapters", "-1",
    "-fflags", "+bitexact", "-flags", "+bitexact",
)  # fmt: skip
AUDIO_DEMUXERS = "wav,w64,mp3,ogg,mov,matroska,flac,aac,ac3,amr,amrnb,amrwb,aiff,caf,asf,s16le"
IMAGE_DEMUXERS = "png_pipe,jpeg_pipe,webp_pipe,bmp_pipe,tiff_pipe,gif,gif_pipe,apng,mov,matroska"
_FIT = (
    f"scale={STICKER_BOX}:{STICKER_BOX}:force_original_aspect_ratio=decrease:flags=lanczos,"
    f"format=rgba,pad={STICKER_BOX}:{STICKER_BOX}:(ow-iw)/2:(oh-ih)/2:color=0x00000000"
)
STILL_ARGS = (
    "-vf", _FIT, "-frames:v", "1", "-an", "-c:v", "libwebp", "-quality", "80",
    "-map_metadata", "-1", "-f", "webp",
)  # fmt: skip
ANIMATED_ARGS = (
    "-t", str(STICKER_MAX_SECONDS), "-vf", f"fps={STICKER_FPS},{_FIT}", "-an",
    "-c:v", "libwebp_anim", "-quality", "50", "-loop", "0", "-map_metadata", "-1", "-f", "webp",
)  # fmt: skip
_OGG_PAGE = struct.Struct("<4sBBqIIIB")  # capture, version, flags, granule, serial, seq, crc, n
_LOG_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*")
_STDERR_KEEP = 4096
_found: dict[str | None, str] = {}
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True, slots=True)
class Voice:
    """A voice note ready to send: its bytes, mimetype and duration in whole seconds."""

    data: bytes
    mimetype: str
    seconds: int | None


@dataclass(frozen=True, slots=True)
class Sticker:
    """A sticker ready to send (WebP)."""

    data: bytes
    animated: bool
    width: int | None
    height: int | None
    mimetype: str = WEBP_MIME


# --- what the bytes already are (pure) ----------------------------------------------------


def opus_head(data: bytes) -> bool:
    """Whether the bytes start an Ogg stream whose first packet is an OpusHead."""
    if len(data) < _OGG_PAGE.size or not data.startswith(b"OggS"):
        return False
    body = _OGG_PAGE.size + data[26]
    return data.startswith(b"OpusHead", body)


def ogg_opus_seconds(data: bytes) -> float | None:
    """The duration of an Ogg/Opus stream, from its last granule position (48 kHz samples)
    less the pre-skip of its OpusHead; None when the bytes are not Ogg/Opus."""
    if not opus_head(data):
        return None
    pos, serial, pre_skip, last = 0, None, 0, -1
    size = len(data)
    while pos + _OGG_PAGE.size <= size:
        magic, version, _, granule, stream, _, _, count = _OGG_PAGE.unpack_from(data, pos)
        if magic != b"OggS" or version != 0:
            break
        body = pos + _OGG_PAGE.size + count
        length = sum(data[pos + _OGG_PAGE.size : body])
        if body + length > size:
            break  # a truncated last page: what came before still counts
        if serial is None:
            serial = stream
            if length >= 19:
                pre_skip = int.from_bytes(data[body + 10 : body + 12], "little")
        elif stream == serial and granule >= 0:
            last = granule
        pos = body + length
    return max(0, last - pre_skip) / 48000 if last >= 0 else 0.0


def whole_seconds(seconds: float) -> int:
    """Seconds as WhatsApp shows them: rounded, and a voice note with sound is at least 1."""
    return max(1, int(seconds + 0.5)) if seconds > 0 else 0


def gif_frames(data: bytes, stop: int = 2) -> int:
    """How many images a GIF holds (counting stops at `stop`); 0 when it is not a GIF."""
    if len(data) < 13 or not data.startswith((b"GIF87a", b"GIF89a")):
        return 0
    pos = 13
    if data[10] & 0x80:
        pos += 3 * (2 << (data[10] & 7))  # the global colour table
    frames = 0
    while pos < len(data) and frames < stop:
        block = data[pos]
        if block == 0x2C:  # an image descriptor
            frames += 1
            if pos + 10 > len(data):
                break
            flags = data[pos + 9]
            pos += 10
            if flags & 0x80:
                pos += 3 * (2 << (flags & 7))  # its local colour table
            pos = _skip_sub_blocks(data, pos + 1)  # after the LZW minimum code size
        elif block == 0x21:  # an extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        else:  # the trailer, or damage
            break
    return frames


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data):
        length = data[pos]
        pos += 1 + length
        if length == 0:
            break
    return pos


def webp_info(data: bytes) -> tuple[bool, int, int] | None:
    """(animated, width, height) of a WebP file; None when it is not one."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return bool(data[20] & 0x02), width, height
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
        return False, width, height
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return False, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def is_moving(media: Media) -> bool:
    """Whether a sticker source is animated: a GIF of several images, or a video."""
    if gif_frames(media.data) > 1:
        return True
    kind = sniff(media.data) or ""
    webm = media.data.startswith(b"\x1a\x45\xdf\xa3")
    return webm or kind.startswith("video/") or (media.mimetype or "").startswith("video/")


# --- finding ffmpeg -----------------------------------------------------------------------


def find_ffmpeg(explicit: str | None) -> str | None:
    """The ffmpeg to run, found once per setting: the explicit one (a path or a name on the
    PATH) and nothing else when it is set; else `ffmpeg` on the PATH, else imageio-ffmpeg's.
    """
    if explicit in _found:
        return _found[explicit]
    found = _search(explicit)
    if found is not None:
        _found[explicit] = found
    return found


def _search(explicit: str | None) -> str | None:
    if explicit:
        found = shutil.which(explicit)
        return str(Path(found).resolve()) if found else None
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        exe = str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError:  # the package without its binary (an unsupported platform)
        return None
    return exe if os.access(exe, os.X_OK) else None


def _slot_pool() -> asyncio.Semaphore:
    """At most one ffmpeg per CPU at a time (per event loop: tests run many loops)."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(max(2, os.cpu_count() or 2))
    return slots


# --- the converter ------------------------------------------------------------------------


class Converter:
    """Voice notes and stickers for one request, under the current settings."""

    def __init__(
        self,
        *,
        ffmpeg_path: str | None,
        timeout: float,
        max_bytes: int,
        audio_api: str | None = None,
        audio_api_key: str | None = None,
    ) -> None:
        self.ffmpeg_path = ffmpeg_path
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.audio_api = audio_api
        self.audio_api_key = audio_api_key

    @classmethod
    def of(cls, settings: Settings) -> Converter:
        return cls(
            ffmpeg_path=settings.ffmpeg_path,
            timeout=settings.media_convert_timeout,
            max_bytes=settings.media_max_bytes,
            audio_api=settings.audio_converter_url,
            audio_api_key=settings.audio_converter_key,
        )

    # --- what the send routes send -------------------------------------------------------

    async def voice_message(
        self, media: Media, field: str, *, convert: bool = True
    ) -> tuple[dict[str, Any], bytes]:
        """A voice note's content and bytes: converted to Ogg/Opus, or as given when not to
        `convert` (Evolution's `encoding: false`)."""
        voice = await self.voice(media, field) if convert else as_is_voice(media)
        return c.voice(voice.mimetype, voice.seconds), voice.data

    async def sticker_message(
        self, media: Media, field: str, *, convert: bool = True
    ) -> tuple[dict[str, Any], bytes]:
        """A sticker's content and bytes: converted to WebP, or as given when not to `convert`
        (Evolution's `notConvertSticker`)."""
        if not convert:
            return c.sticker(media.mimetype), media.data
        st = await self.sticker(media, field)
        return c.sticker(st.mimetype, st.animated, st.width, st.height), st.data

    # --- voice notes ----------------------------------------------------------------------

    async def voice(self, media: Media, field: str) -> Voice:
        """The media as an Ogg/Opus voice note (as it is when it already is one)."""
        if opus_head(media.data):
            return as_is_voice(media)
        if self.audio_api:
            data = await self._external_voice(media, field)
        else:
            exe = self.ffmpeg("audio conversion")
            data = await self._run(exe, media, field, "an Ogg/Opus voice note", _voice_args)
        return Voice(data, OPUS_MIME, whole_seconds(ogg_opus_seconds(data) or 0.0))

    async def _external_voice(self, media: Media, field: str) -> bytes:
        """Evolution's external audio converter: the Ogg/Opus bytes it answers (its
        `duration` is not needed: the stream itself tells)."""
        import httpx2  # on first use, as media.fetch

        url = str(self.audio_api)
        form = {"base64": (None, base64.b64encode(media.data)), "format": (None, b"ogg")}
        headers = {"apikey": self.audio_api_key or ""}
        limit = self.max_bytes * 4 // 3 + 64 * 1024  # the base64 answer and its JSON
        who = "the audio converter (API_AUDIO_CONVERTER)"
        try:
            client = httpx2.AsyncClient(timeout=self.timeout)
            async with (
                asyncio.timeout(self.timeout),
                client,
                client.stream("POST", url, files=form, headers=headers) as resp,
            ):
                try:
                    body = await read_at_most(resp.aiter_bytes(), limit)
                except TooLarge:
                    raise UpstreamFailed(
                        f"{field}: {who}'s answer is larger than {limit} bytes"
                    ) from None
                status = resp.status_code
        except (httpx2.TimeoutException, TimeoutError):
            raise UpstreamFailed(
                f"{field}: {who} did not answer within {self.timeout:g} s"
            ) from None
        except httpx2.HTTPError as exc:
            raise UpstreamFailed(f"{field}: {who} failed ({type(exc).__name__})") from None
        if status in (400, 413, 415, 422):
            raise BadRequest(f"{field}: {who} refused the audio (HTTP {status}): {_short(body)}")
        if status != 200:
            raise UpstreamFailed(f"{field}: {who} answered HTTP {status}: {_short(body)}")
        answer = _json_object(body)
        if answer and isinstance(answer.get("audio"), str):
            try:
                data = base64.b64decode(answer["audio"], validate=True)
            except (binascii.Error, ValueError):
                data = b""
        elif answer and isinstance(answer.get("url"), str):
            try:
                data = (await fetch(answer["url"], field, self.max_bytes, self.timeout)).data
            except BadRequest as exc:  # the converter's URL failed, not the caller's media
                raise UpstreamFailed(f"{who} answered a URL that failed: {exc}") from None
        else:
            raise UpstreamFailed(f"{field}: {who} answered no audio: {_short(body)}")
        if not opus_head(data):
            raise UpstreamFailed(f"{field}: {who} did not answer Ogg/Opus audio")
        return data

    # --- stickers -------------------------------------------------------------------------

    async def sticker(self, media: Media, field: str) -> Sticker:
        """The media as a WebP sticker fitted in 512x512 with transparent padding (as it is
        when it already is WebP); GIFs of several images and videos become animated."""
        info = webp_info(media.data)
        if info is not None:
            return Sticker(media.data, *info)
        exe = self.ffmpeg("sticker conversion")
        moving = is_moving(media)
        what = "an animated WebP sticker" if moving else "a WebP sticker"
        args = ANIMATED_ARGS if moving else STILL_ARGS
        data = await self._run(
            exe, media, field, what, lambda src, dst: _image_args(src, dst, args)
        )
        info = webp_info(data)
        if info is None:
            raise BadRequest(f"{field} could not be converted to {what}: ffmpeg wrote no WebP")
        return Sticker(data, *info)

    # --- running ffmpeg -------------------------------------------------------------------

    def ffmpeg(self, purpose: str) -> str:
        """The ffmpeg binary, or a 400 saying how to provide one."""
        exe = find_ffmpeg(self.ffmpeg_path)
        if exe is not None:
            return exe
        if self.ffmpeg_path:
            raise BadRequest(
                f"{purpose} needs ffmpeg: WAGATE_FFMPEG_PATH={self.ffmpeg_path} is not an "
                "executable file"
            )
        raise BadRequest(
            f"{purpose} needs ffmpeg: set WAGATE_FFMPEG_PATH or install wagate[media]"
        )

    async def _run(
        self,
        exe: str,
        media: Media,
        field: str,
        what: str,
        args: Callable[[Path, Path], list[str]],
    ) -> bytes:
        """Run ffmpeg on the media in a private temporary directory; the output's bytes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        slots = _slot_pool()
        try:
            async with asyncio.timeout_at(deadline):
                await slots.acquire()
        except TimeoutError:
            raise Conflict(
                f"{field}: the media converter stayed busy for {self.timeout:g} s; try again"
            ) from None
        try:
            with tempfile.TemporaryDirectory(prefix="wagate-media-") as tmp:
                src, dst = Path(tmp, "in"), Path(tmp, "out")
                await asyncio.to_thread(src.write_bytes, media.data)
                lpcm = (media.file_name or "").lower().endswith(".lpcm")
                argv = [exe, *_common_args(), *args(src, dst)]
                if lpcm:  # Evolution's raw PCM voice input: 16-bit, 24 kHz, mono
                    at = argv.index("-i")
                    argv[at:at] = ["-f", "s16le", "-ar", "24000", "-ac", "1"]
                at = argv.index(str(dst))
                argv[at:at] = ["-fs", str(self.max_bytes)]
                code, err = await self._exec(argv, deadline, field, what)
                if code != 0:
                    raise BadRequest(
                        f"{field} could not be converted to {what}: {_reason(err, tmp)}"
                    )
                data = await asyncio.to_thread(_read_output, dst)
                if len(data) >= self.max_bytes:
                    raise BadRequest(
                        f"{field}: {what} would be larger than the limit of {self.max_bytes} bytes"
                    )
                if not data:
                    raise BadRequest(f"{field} could not be converted to {what}: no output")
                return data
        finally:
            slots.release()

    async def _exec(
        self, argv: list[str], deadline: float, field: str, what: str
    ) -> tuple[int, bytes]:
        """The exit code and stderr's tail; the process is killed at the deadline, and when
        the request is cancelled."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise BadRequest(f"{field}: ffmpeg ({argv[0]}) could not be started: {exc}") from None
        assert proc.stderr is not None
        try:
            async with asyncio.timeout_at(deadline):
                err = await _tail(proc.stderr, _STDERR_KEEP)
                code = await proc.wait()
        except TimeoutError:
            raise BadRequest(
                f"{field} could not be converted to {what} within {self.timeout:g} s "
                "(WAGATE_MEDIA_CONVERT_TIMEOUT_SECONDS)"
            ) from None
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return code, err


def as_is_voice(media: Media) -> Voice:
    """A voice note sent as given (`encoding: false`, or already Ogg/Opus): Ogg/Opus says so
    and knows its duration; anything else keeps its own type."""
    seconds = ogg_opus_seconds(media.data)
    if seconds is not None:
        return Voice(media.data, OPUS_MIME, whole_seconds(seconds))
    return Voice(media.data, media.mimetype or OPUS_MIME, None)


def _read_output(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


def _common_args() -> list[str]:
    return ["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-protocol_whitelist", "file"]


def _voice_args(src: Path, dst: Path) -> list[str]:
    return [
        "-format_whitelist",
        AUDIO_DEMUXERS,
        "-i",
        str(src),
        *VOICE_ARGS,
        "-f",
        "ogg",
        str(dst),
    ]


def _image_args(src: Path, dst: Path, args: tuple[str, ...]) -> list[str]:
    return ["-format_whitelist", IMAGE_DEMUXERS, "-i", str(src), *args, str(dst)]


async def _tail(stream: asyncio.StreamReader, keep: int) -> bytes:
    """Read a stream to its end, keeping only its last `keep` bytes."""
    tail = b""
    while chunk := await stream.read(65536):
        tail = (tail + chunk)[-keep:]
    return tail


def _reason(stderr: bytes, tmp: str) -> str:
    """ffmpeg's last complaint, without log prefixes or our temporary paths."""
    text = stderr.decode("utf-8", "replace").replace(tmp + os.sep, "").replace(tmp, "")
    lines = [_LOG_PREFIX.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("To ignore this")]
    if any("matches no streams" in line for line in lines):
        return "it holds no audio"
    if any("not on whitelist" in line for line in lines):
        return "its format is not one this route accepts"
    if not lines:
        return "ffmpeg failed"
    last = lines[-1]
    if last.startswith("Error opening input"):
        return f"ffmpeg cannot read it ({last.partition(': ')[2] or last})"
    return last[:300]


def _json_object(body: bytes) -> dict[str, Any] | None:
    import orjson

    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _short(body: bytes) -> str:
    return body[:200].decode("utf-8", "replace").strip() or "(no body)"
