"""`wagate doctor` checks the SQS, S3 and Pusher endpoints the enabled transports will use."""

from __future__ import annotations

import socket

from wagate.config import load_settings
from wagate.console.doctor import FAIL, OK, _cloud, cloud_endpoints


def test_enabled_endpoints_are_dialled_and_a_dead_one_names_its_variables() -> None:
    with socket.socket() as up, socket.socket() as down:
        up.bind(("127.0.0.1", 0))
        up.listen()
        down.bind(("127.0.0.1", 0))  # bound, not listening: refused
        up_port, down_port = up.getsockname()[1], down.getsockname()[1]
        settings = load_settings(
            sqs_enabled=True,
            sqs_region="eu-west-1",
            sqs_base_url=f"http://127.0.0.1:{up_port}",
            s3_enabled=True,
            s3_endpoint="127.0.0.1",
            s3_port=down_port,
            s3_use_ssl=False,
            pusher_enabled=True,
            pusher_host=f"http://127.0.0.1:{up_port}",
        )
        found = {f.what: f for f in _cloud(settings)}
    assert found["sqs"].status == OK and f"127.0.0.1:{up_port} answers" in found["sqs"].detail
    assert found["pusher"].status == OK
    assert found["s3"].status == FAIL and "S3_ENDPOINT" in found["s3"].fix


def test_aws_defaults_and_nothing_when_off() -> None:
    assert cloud_endpoints(load_settings()) == []
    on = load_settings(
        sqs_enabled=True,
        sqs_region="eu-west-1",
        pusher_enabled=True,
        pusher_global_enabled=True,
        pusher_global_cluster="mt1",
    )
    assert [u for _, u, _ in cloud_endpoints(on)] == [
        "https://sqs.eu-west-1.amazonaws.com",
        "https://api-mt1.pusher.com",
    ]
