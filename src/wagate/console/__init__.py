"""Operator tools behind the `wagate` command: the HTTP client, instance commands, doctor."""
