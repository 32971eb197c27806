"""The server's settings from the environment (scimserver/server.py)."""

import json
import subprocess
import sys

import pytest

from scimserver import server
from tests.conftest import ROOT


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


def test_a_worker_freezes_what_it_loaded_and_collects_young_objects_less_often():
    """The module each granian worker imports (scimserver/wsgi.py) leaves the collector on,
    the views imported, everything then alive frozen (a full collection skips it), and the
    youngest generation collected after 10,000 allocations rather than Python's 700."""
    probe = (
        "import gc, json, sys; import scimserver.wsgi; "
        "print(json.dumps([gc.isenabled(), gc.get_threshold(), gc.get_freeze_count(), "
        "'provisioning.views' in sys.modules]))"
    )
    assert sys.modules.get("scimserver.wsgi") is None  # this process's collector stays as it is
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout

    enabled, threshold, frozen, views = json.loads(out.splitlines()[-1])

    assert enabled and views
    assert threshold == [10_000, 10, 10]
    assert frozen > 50_000, frozen
