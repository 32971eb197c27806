"""Health probes for orchestrators and load balancers: `/health/live` says the process answers,
`/health/ready` that it can reach the database too.

Both are answered by `OperationsMiddleware` before the rest of the stack: no authentication,
no host check (probes come to a container's address, not to a name in ALLOWED_HOSTS), not
logged and not counted in the request metrics, so a probe every few seconds costs next to
nothing and fills no log.
"""

import logging

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.http import HttpResponse

from .http import RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)


def _answer(status: int, state: str) -> HttpResponse:
    response = HttpResponse(
        f'{{"status":"{state}"}}'.encode(), status=status, content_type="application/json"
    )
    response["Cache-Control"] = "no-store"
    return response


def live(request) -> HttpResponse:
    """Answer 200: the process is up and serving requests."""
    return _answer(200, "ok")


def ready(request) -> HttpResponse:
    """Answer 200 when the database answers within READY_TIMEOUT_SECONDS, else 503.

    A connection the database dropped (a restart) is replaced once, as the token check does
    for a SCIM request, so the first probe after the database is back already says ready.
    """
    try:
        try:
            _ping()
        except (OperationalError, InterfaceError):
            connection.close()
            _ping()
    except DatabaseError as exc:
        logger.warning("Not ready: the database did not answer: %s", exc)
        response = _answer(503, "unavailable")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return _answer(200, "ok")


def _ping() -> None:
    """Run `SELECT 1`, cancelled by the server after READY_TIMEOUT_SECONDS.

    The timeout is set LOCAL, for this transaction only: behind PgBouncer in transaction mode
    a session setting would stay on a server connection that other clients then use.
    """
    timeout_ms = int(settings.READY_TIMEOUT_SECONDS * 1000)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
        cursor.execute("SELECT 1")
