"""Request log lines: the text line by default, one JSON object per line with LOG_FORMAT=json
(provisioning/logs.py), both carrying the same fields."""

import json
import logging
import re
import sys

from provisioning.logs import JSONFormatter
from tests.conftest import user_body


def test_a_request_line_carries_its_fields_and_request_id(scim, caplog):
    """The text line is unchanged; the record carries the fields the JSON line is made of,
    with the request id the response returns in X-Request-ID."""
    with caplog.at_level(logging.INFO, logger="provisioning.requests"):
        response = scim.post("/Users", user_body("bjensen"), HTTP_X_REQUEST_ID="req-42")
    (record,) = [r for r in caplog.records if r.name == "provisioning.requests"]
    assert response["X-Request-ID"] == "req-42"
    assert record.getMessage().startswith("POST /scim/v2/Users 201 ")
    assert re.search(r"ms tenant=acme sql=\d+$", record.getMessage())
    line = json.loads(JSONFormatter().format(record))
    assert line.keys() == {
        "time", "level", "logger", "message", "method", "path", "status", "duration_ms",
        "tenant", "sql", "scim_type", "request_id",
    }  # fmt: skip
    assert {k: v for k, v in line.items() if k not in ("time", "duration_ms")} == {
        "level": "INFO",
        "logger": "provisioning.requests",
        "message": record.getMessage(),
        "method": "POST",
        "path": "/scim/v2/Users",
        "status": 201,
        "tenant": "acme",
        "sql": record.fields["sql"],
        "scim_type": None,
        "request_id": "req-42",
    }
    assert line["time"].endswith("+00:00") and isinstance(line["duration_ms"], float)


def test_an_error_line_has_its_scim_type_and_a_new_request_id(scim, caplog):
    with caplog.at_level(logging.INFO, logger="provisioning.requests"):
        response = scim.get("/Users", {"filter": "userName zz 1"})
    (record,) = [r for r in caplog.records if r.name == "provisioning.requests"]
    line = json.loads(JSONFormatter().format(record))
    assert (line["status"], line["scim_type"]) == (400, "invalidFilter")
    assert line["request_id"] == response["X-Request-ID"] and len(line["request_id"]) == 32


def test_any_record_is_one_json_line_with_its_traceback():
    """Lines other than requests' are JSON too: the message, and the traceback as one field."""
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.getLogger("tests.logs").makeRecord(
            "tests.logs", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info()
        )
    text = JSONFormatter().format(record)
    assert "\n" not in text
    line = json.loads(text)
    assert (line["level"], line["message"]) == ("ERROR", "failed here")
    assert line["exception"].startswith("Traceback") and "ValueError: boom" in line["exception"]
