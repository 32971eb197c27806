"""One log line and the metrics of each request: method, path, status, duration, tenant, SQL
statements, and the scimType of a 4xx; the probes and the scrape answered before all that.

The query string and headers are left out: filters may carry personal data, and the
Authorization header carries the token.
"""

import functools
import logging
import time

from django.db import connection
from django.http import HttpResponse
from django.urls import Resolver404, resolve

from . import context, health, metrics
from .storage.statements import StatementCounter

logger = logging.getLogger("provisioning.requests")


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        statements = StatementCounter()
        with connection.execute_wrapper(statements):
            response = self.get_response(request)
        elapsed = time.perf_counter() - started
        status = response.status_code
        # The SCIM endpoints set the request's token, and error_response an error's scimType.
        token = getattr(request, "token", None)
        tenant = token.tenant.slug if token is not None else ""
        scim_type = getattr(response, "scim_type", None)
        match = request.resolver_match
        metrics.observe_request(
            match.view_name if match is not None else "",
            request.method,
            status,
            tenant,
            elapsed,
            statements.count,
        )
        if hasattr(response, "scim_type"):
            metrics.observe_error(status, scim_type)
        level = logging.ERROR if status >= 500 else logging.INFO
        if not logger.isEnabledFor(level):
            return response
        # The line's fields, for LOG_FORMAT=json (provisioning/logs.py).
        fields = {
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": round(elapsed * 1000, 1),
            "tenant": tenant or None,
            "sql": statements.count,
            "scim_type": scim_type,
            "request_id": getattr(request, "request_id", None),
        }
        # Statements of a streamed body (a group's members) run later and are not counted.
        logger.log(
            level,
            "%s %s %s %.1fms tenant=%s sql=%d%s",
            request.method,
            request.path,
            status,
            elapsed * 1000,
            tenant or "-",
            statements.count,
            f" scimType={scim_type}" if scim_type else "",
            extra={"fields": fields},
        )
        return response


class RequestContextMiddleware:
    """Give each request an id (a sane incoming `X-Request-ID`, else a new one), answer with it
    in `X-Request-ID`, and make the request the one change records name (`provisioning.context`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = context.request_id(request)
        bound = context.bind(request)
        try:
            response = self.get_response(request)
        finally:
            context.unbind(bound)
        response["X-Request-ID"] = request.request_id
        return response


class SCIMRouteMiddleware:
    """Serve the SCIM API without the middleware that only the admin needs.

    Sessions, CSRF, authentication of Django users, messages and frame options cost a
    quarter of a cheap SCIM request's CPU (bench/README.md) and do nothing for it: SCIM
    requests carry a bearer token and JSON. Placed after SecurityMiddleware, this answers
    every path under /scim/ itself; other paths go on down the stack.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith("/scim/"):
            return self.get_response(request)
        # CommonMiddleware's check, which is skipped here: a Host outside ALLOWED_HOSTS is a
        # 400 (DisallowedHost, answered by handler400). The views' base URL uses the host.
        request.scim_host = request.get_host()
        path = request.path_info
        try:
            match = _resolve(path) if len(path) <= MAX_CACHED_PATH else resolve(path)
        except Resolver404:
            return self.get_response(request)
        request.resolver_match = match
        return match.func(request, *match.args, **match.kwargs)


# The longest path whose match is kept: every SCIM path with a resource id fits, and 4,096
# kept matches of paths this long hold about 2 MB (a path and its id), whoever sends them.
MAX_CACHED_PATH = 256


@functools.lru_cache(maxsize=4096)
def _resolve(path: str):
    """Return Django's match for a SCIM path, kept for the next request of the same path:
    resolving walked the URL patterns for a tenth of a cheap request's CPU. The match is only
    read (its view and arguments), so requests can share it."""
    return resolve(path)


class OperationsMiddleware:
    """Answer `/health/live`, `/health/ready` (provisioning/health.py) and `/metrics`
    (provisioning/metrics.py) first, with a dict lookup: they pass through nothing else, so
    they are neither logged nor counted, and cost no request of the API anything more."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.views = {
            "/health/live": health.live,
            "/health/ready": health.ready,
            "/metrics": metrics.view,
        }

    def __call__(self, request):
        view = self.views.get(request.path_info)
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = HttpResponse(status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return view(request)
