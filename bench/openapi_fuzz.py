"""Schemathesis over wagate's whole OpenAPI document at length: the CI test
(tests/api/test_openapi_fuzz.py: a real server, every operation, every built-in check) with many
cases per operation. Prints, as JSON, the cases run, how many failed each check, and every
server error (which must be none).

Run it with the project's interpreter: `.venv/bin/python bench/openapi_fuzz.py --examples 200`.
Exit status 0 when there was no server error, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--examples", type=int, default=200, help="cases per operation (200)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="wagate-fuzz-") as tmp:
        report = Path(tmp) / "report.json"
        env = {
            **os.environ,
            "WAGATE_FUZZ_EXAMPLES": str(args.examples),
            "WAGATE_FUZZ_REPORT": str(report),
        }
        began = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
             "tests/api/test_openapi_fuzz.py"],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )  # fmt: skip
        seconds = time.monotonic() - began
        if not report.exists():
            print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
            return 1
        figures = json.loads(report.read_text())
    figures["examples_per_operation"] = args.examples
    figures["seconds"] = round(seconds, 1)
    print(json.dumps(figures, indent=2))
    return 0 if not figures["server_errors"] and done.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
