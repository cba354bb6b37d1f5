"""Time per media conversion, as sendWhatsAppAudio and sendSticker run it (messaging/convert.py).

Each case converts the same input `--runs` times, one at a time, and reports the median wall
time (ms), the median CPU time of the ffmpeg child (user + system, ms), the input and output
sizes. Inputs are made first with the same ffmpeg (nothing is downloaded):

- voice_wav_30s: a 30 s voice note as a 44.1 kHz stereo WAV (about 5 MB) -> Ogg/Opus;
- voice_mp3_30s: the same as a 128 kb/s MP3 -> Ogg/Opus;
- voice_m4a_30s: the same as AAC in MP4 (its index at the end: why ffmpeg reads a file);
- voice_opus_passthrough_30s: Ogg/Opus, which is only parsed for its duration;
- sticker_png_1mb: a noisy 800x600 RGBA PNG of about 1 MB -> 512x512 WebP;
- sticker_gif_3s / sticker_mp4_3s: animated GIF 320x240 and MP4 640x360 -> animated WebP;
- pillow_png_1mb (when Pillow is installed): the same still sticker made in-process with Pillow
  (thumbnail + pad + WebP q80), the alternative that was measured and not taken.

Run: `.venv/bin/python bench/media_convert.py [--runs N] [--voice-seconds S] [--clip-seconds S]`
(shorter inputs than the 30 s voice note and the 3 s clips only for a quick check; the case
names carry the durations). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from wagate.messaging.convert import Converter, find_ffmpeg
from wagate.messaging.media import Media


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def make(exe: str, tmp: Path, name: str, *args: str) -> bytes:
    out = tmp / name
    cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(out)]
    subprocess.run(cmd, check=True, timeout=120)
    return out.read_bytes()


def inputs(exe: str, tmp: Path, voice_s: int, clip_s: int) -> dict[str, bytes]:
    voice = ["-f", "lavfi", "-i", f"sine=frequency=220:duration={voice_s}", "-f", "lavfi", "-i",
             f"anoisesrc=duration={voice_s}:amplitude=0.05", "-filter_complex", "amix=inputs=2",
             "-ac", "2", "-ar", "44100"]  # fmt: skip
    wav = make(exe, tmp, "v.wav", *voice)
    return {
        "wav": wav,
        "mp3": make(exe, tmp, "v.mp3", *voice, "-b:a", "128k"),
        "m4a": make(exe, tmp, "v.m4a", *voice, "-c:a", "aac", "-b:a", "96k"),
        "png": make(
            exe,
            tmp,
            "p.png",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=800x600",
            "-vf",
            "noise=alls=24:allf=u,format=rgba",
            "-frames:v",
            "1",
        ),  # fmt: skip
        "gif": make(
            exe, tmp, "a.gif", "-f", "lavfi", "-i", f"testsrc=size=320x240:rate=10:d={clip_s}"
        ),
        "mp4": make(
            exe,
            tmp,
            "a.mp4",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size=640x360:rate=30:d={clip_s}",
            "-c:v",
            "mpeg4",
            "-q:v",
            "4",
        ),  # fmt: skip
    }


def pillow_sticker(data: bytes) -> bytes:
    from PIL import Image

    im = Image.open(io.BytesIO(data)).convert("RGBA")
    im.thumbnail((512, 512), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (512, 512), (0, 0, 0, 0))
    canvas.paste(im, ((512 - im.width) // 2, (512 - im.height) // 2))
    out = io.BytesIO()
    canvas.save(out, "WEBP", quality=80)
    return out.getvalue()


async def case(runs: int, size_in: int, convert: Callable[[], Awaitable[bytes]]) -> dict[str, Any]:
    walls, cpus, size_out = [], [], 0
    await convert()  # warm the page cache and the binary
    for _ in range(runs):
        cpu0, t0 = child_cpu(), time.perf_counter()
        size_out = len(await convert())
        walls.append((time.perf_counter() - t0) * 1000)
        cpus.append((child_cpu() - cpu0) * 1000)
    return {
        "median_ms": round(statistics.median(walls), 2),
        "max_ms": round(max(walls), 1),
        "child_cpu_ms": round(statistics.median(cpus), 1),
        "in_bytes": size_in,
        "out_bytes": size_out,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    exe = find_ffmpeg(None)
    if exe is None:
        raise SystemExit("no ffmpeg: install wagate[media] (uv sync installs it) or ffmpeg")
    conv = Converter(ffmpeg_path=None, timeout=120, max_bytes=64 * 1024 * 1024)
    with tempfile.TemporaryDirectory() as tmp:
        given = inputs(exe, Path(tmp), args.voice_seconds, args.clip_seconds)
    opus = (await conv.voice(Media(given["wav"], None, None), "audio")).data

    def voice(data: bytes) -> Callable[[], Awaitable[bytes]]:
        async def run() -> bytes:
            return (await conv.voice(Media(data, None, None), "audio")).data

        return run

    def sticker(data: bytes) -> Callable[[], Awaitable[bytes]]:
        async def run() -> bytes:
            return (await conv.sticker(Media(data, None, None), "sticker")).data

        return run

    report: dict[str, Any] = {"ffmpeg": exe, "runs": args.runs, "cases": {}}
    cases = report["cases"]
    v, c = args.voice_seconds, args.clip_seconds
    for name, data, run in (
        (f"voice_wav_{v}s", given["wav"], voice(given["wav"])),
        (f"voice_mp3_{v}s", given["mp3"], voice(given["mp3"])),
        (f"voice_m4a_{v}s", given["m4a"], voice(given["m4a"])),
        (f"voice_opus_passthrough_{v}s", opus, voice(opus)),
        ("sticker_png_1mb", given["png"], sticker(given["png"])),
        (f"sticker_gif_{c}s", given["gif"], sticker(given["gif"])),
        (f"sticker_mp4_{c}s", given["mp4"], sticker(given["mp4"])),
    ):
        cases[name] = await case(args.runs, len(data), run)
    try:
        import PIL  # noqa: F401
    except ImportError:
        return report
    png = given["png"]

    async def pillow() -> bytes:
        return await asyncio.to_thread(pillow_sticker, png)

    cases["pillow_png_1mb"] = await case(args.runs, len(png), pillow)
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--voice-seconds", type=int, default=30, help="voice note length (30)")
    parser.add_argument("--clip-seconds", type=int, default=3, help="animated input length (3)")
    args = parser.parse_args()
    if args.runs < 1 or args.voice_seconds < 1 or args.clip_seconds < 1:
        parser.error("--runs, --voice-seconds and --clip-seconds must be at least 1")
    print(json.dumps(asyncio.run(main(args)), indent=2))
