"""One log line per request: method, path, status, duration, tenant, and the scimType of a 4xx.

The query string and headers are left out: filters may carry personal data, and the
Authorization header carries the token.
"""

import logging
import time

from . import context

logger = logging.getLogger("provisioning.requests")


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        # DRF stores the authenticated TenantPrincipal on the Django request as `user`.
        tenant = getattr(getattr(request, "user", None), "tenant", None)
        data = getattr(response, "data", None)
        scim_type = data.get("scimType") if isinstance(data, dict) else None
        level = logging.ERROR if response.status_code >= 500 else logging.INFO
        logger.log(
            level,
            "%s %s %s %.1fms tenant=%s%s",
            request.method,
            request.path,
            response.status_code,
            elapsed_ms,
            tenant.slug if tenant else "-",
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
