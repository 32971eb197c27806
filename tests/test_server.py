"""The server's settings from the environment (scimserver/server.py)."""

import pytest

from scimserver import server


def test_graceful_timeout_defaults_to_ten_seconds(monkeypatch):
    monkeypatch.delenv("GRACEFUL_TIMEOUT", raising=False)
    assert server.graceful_seconds() == 10
    monkeypatch.setenv("GRACEFUL_TIMEOUT", "1")
    assert server.graceful_seconds() == 1


@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_graceful_timeout_under_a_second_is_refused(monkeypatch, value):
    """granian reads 0 as no limit: a worker that never stops would keep the server alive."""
    monkeypatch.setenv("GRACEFUL_TIMEOUT", value)
    with pytest.raises(SystemExit, match="GRACEFUL_TIMEOUT must be at least 1 second"):
        server.graceful_seconds()
