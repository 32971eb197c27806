"""Log lines as JSON (LOG_FORMAT=json): one object per line, for log collectors that index
fields rather than parse text.

Every record becomes `{"time", "level", "logger", "message"}`, with `exception` when it
carries a traceback. A request line (provisioning.middleware.RequestLogMiddleware) adds its
fields as keys of their own: `method`, `path`, `status`, `duration_ms`, `tenant`, `sql`,
`scim_type` and `request_id`, the `X-Request-ID` that the response and the change records carry.
"""

import datetime as dt
import json
import logging


class JSONFormatter(logging.Formatter):
    """Format a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # default=str: a message argument that JSON cannot hold is written as its text.
        return json.dumps(entry, ensure_ascii=False, default=str)
