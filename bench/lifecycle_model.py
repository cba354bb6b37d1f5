"""Run the lifecycle model for >= 10,000 random sequences and count the ones that broke
anything.

The machine is tests/property/test_lifecycle_machine.py (the one CI runs with 300 sequences):
the real supervisor over the sim engine on a virtual clock, with injected faults (remote logout
fails, socket already closed, open without identity, persistence fails once), the network going
down, closes with every code, stale events and timers from old epochs, concurrent
connect/logout/delete/restart, process restarts and delete-then-recreate, checking DESIGN.md's
seven invariants after every step. Here violations are counted instead of stopping the run.

    .venv/bin/python bench/lifecycle_model.py [--sequences 10000] [--steps 40] [--seed N] [--json]

Prints how many sequences and steps ran, how many sequences violated anything (by invariant),
and the first few violations found (`--json`: the same as one JSON object). `--seed` makes the
sequences the same from run to run (by default each run draws new ones). Exit status 1 when any
sequence violated an invariant.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=40, help="steps per sequence (at most)")
    parser.add_argument("--seed", type=int, help="draw the same sequences every run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args()
    if args.sequences < 1 or args.steps < 1:
        parser.error("--sequences and --steps must be at least 1")

    from hypothesis import HealthCheck, Phase, seed, settings
    from hypothesis.stateful import run_state_machine_as_test
    from tests.property.test_lifecycle_machine import LifecycleMachine

    if args.seed is not None:
        seed(args.seed)(LifecycleMachine)

    LifecycleMachine.strict = False
    by_invariant: Counter[str] = Counter()
    teardown = LifecycleMachine.teardown

    def counting_teardown(self: LifecycleMachine) -> None:
        kinds = {m.group(1) for p in self.w.problems if (m := re.match(r"(inv\d[/\d]*)", p))}
        by_invariant.update(kinds or ({"other"} if self.w.problems else set()))
        teardown(self)

    LifecycleMachine.teardown = counting_teardown  # type: ignore[method-assign]
    started = time.perf_counter()
    run_state_machine_as_test(
        LifecycleMachine,
        settings=settings(
            max_examples=args.sequences,
            stateful_step_count=args.steps,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        ),
    )
    elapsed = time.perf_counter() - started
    tally = LifecycleMachine.tally
    if args.json:
        figures = {
            "sequences_run": tally["ran"],
            "steps_run": tally["steps"],
            "sequences_violated": tally["violated"],
            "by_invariant": dict(sorted(by_invariant.items())),
            "examples": [example[:300] for example in LifecycleMachine.examples],
            "seconds": round(elapsed, 1),
        }
        print(json.dumps(figures, indent=2))
        return 1 if tally["violated"] else 0
    print(f"sequences run:      {tally['ran']}")
    print(
        f"steps run:          {tally['steps']} ({tally['steps'] / max(1, tally['ran']):.1f} avg)"
    )
    print(f"sequences violated: {tally['violated']}")
    for kind, count in sorted(by_invariant.items()):
        print(f"  {kind}: {count}")
    for example in LifecycleMachine.examples:
        print(f"  e.g. {example[:300]}")
    print(f"time:               {elapsed:.0f} s")
    return 1 if tally["violated"] else 0


if __name__ == "__main__":
    sys.exit(main())
