"""One log line per request: method, path, status, duration, tenant, SQL statements, and the
scimType of a 4xx.

The query string and headers are left out: filters may carry personal data, and the
Authorization header carries the token.
"""

import logging
import time

from django.db import connection
from django.urls import Resolver404, resolve

from . import context

logger = logging.getLogger("provisioning.requests")


class StatementCounter:
    """Count the SQL statements run through Django's connection (an execute wrapper)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        statements = StatementCounter()
        with connection.execute_wrapper(statements):
            response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        # The SCIM endpoints set the request's token and an error response's scimType.
        token = getattr(request, "token", None)
        tenant = token.tenant if token is not None else None
        scim_type = getattr(response, "scim_type", None)
        level = logging.ERROR if response.status_code >= 500 else logging.INFO
        # Statements of a streamed body (a group's members) run later and are not counted.
        logger.log(
            level,
            "%s %s %s %.1fms tenant=%s sql=%d%s",
            request.method,
            request.path,
            response.status_code,
            elapsed_ms,
            tenant.slug if tenant else "-",
            statements.count,
            f" scimType={scim_type}" if scim_type else "",
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
        # 400 (DisallowedHost, answered by handler400).
        request.get_host()
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        request.resolver_match = match
        return match.func(request, *match.args, **match.kwargs)
