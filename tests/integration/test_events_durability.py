"""Events are never lost: a real server killed with SIGKILL twice while a receiver refuses
connections; every event arrives at least once, duplicates carry the same id and bytes, and
each instance's events arrive in order. (bench/events_durability.py runs 10,000 events.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.durability import run


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_no_event_lost_across_sigkills_and_a_refusing_receiver(tmp_path: Path) -> None:
    report = await run(
        data_dir=tmp_path, instances=4, target_events=320, kills=2, refuse_seconds=3.0
    )
    assert report.kills == 2
    assert report.events >= 300, report
    assert report.missing == 0, report
    assert report.mismatched_duplicates == 0, report
    assert report.out_of_order == 0, report
    assert report.opens_seen >= report.acknowledged_opens > 0, report
