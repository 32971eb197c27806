"""One log line per request: method, path, status, duration, tenant, and the scimType of a 4xx.

The query string and headers are left out: filters may carry personal data, and the
Authorization header carries the token.
"""

import logging
import time

logger = logging.getLogger("provisioning.requests")


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        # The SCIM endpoints set the request's token and an error response's scimType.
        token = getattr(request, "token", None)
        tenant = token.tenant if token is not None else None
        scim_type = getattr(response, "scim_type", None)
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
