"""An acknowledged inbound message is never lost: a real server killed with SIGKILL at random
points while contacts write to its sim instances; every message answered with 200 is stored
and announced, each under one event id. (bench/inbound_durability.py runs 2,000 messages.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.inbound_durability import run


@pytest.mark.slow
@pytest.mark.timeout(150)
async def test_no_acknowledged_message_lost_across_sigkills(tmp_path: Path) -> None:
    report = await run(data_dir=tmp_path, messages=300, instances=3, kills=3, seed=14)
    assert report.kills == 3, report
    assert report.acknowledged == report.messages == 300, report
    assert report.lost == 0, report
    assert report.stored == report.announced == 300, report
    assert report.stored_twice == 0, report
    assert report.announced_under_two_event_ids == 0, report
    assert report.mismatched_duplicates == 0, report
