"""The one exception handler: every error under /scim/v2 becomes a SCIM error response.

SCIM errors carry their own status and scimType; DRF's and Django's exceptions are mapped onto
them (RFC 7644 §3.12). Anything else is a bug: it is logged with its traceback and answered
with a generic 500 that reveals nothing.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from .scim import errors

logger = logging.getLogger(__name__)

_DRF_TO_SCIM = (
    (drf.NotAuthenticated, errors.Unauthorized),
    (drf.AuthenticationFailed, errors.Unauthorized),
    (drf.PermissionDenied, errors.Forbidden),
    (drf.NotFound, errors.NotFound),
    (drf.MethodNotAllowed, errors.MethodNotAllowed),
    (drf.NotAcceptable, errors.NotAcceptable),
    (drf.UnsupportedMediaType, errors.UnsupportedMediaType),
    (drf.ParseError, errors.InvalidSyntax),
)


def to_scim_error(exc: Exception) -> errors.SCIMError:
    """Return the SCIM error that answers `exc`."""
    if isinstance(exc, errors.SCIMError):
        return exc
    if isinstance(exc, Http404):
        return errors.NotFound()
    if isinstance(exc, PermissionDenied):
        return errors.Forbidden()
    for drf_class, scim_class in _DRF_TO_SCIM:
        if isinstance(exc, drf_class):
            return scim_class(str(exc.detail))
    logger.error("Unhandled error", exc_info=exc)
    return errors.InternalError()


def error_response(error: errors.SCIMError, headers: dict | None = None) -> Response:
    """Return the response for `error`."""
    return Response(error.to_scim(), status=error.status, headers=headers)


def scim_exception_handler(exc: Exception, context: dict) -> Response:
    """Answer `exc` with a SCIM error body.

    Each write runs in a transaction of its own in the storage layer, which the exception has
    already rolled back on its way here.
    """
    headers = {}
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    error = to_scim_error(exc)
    response = error_response(error, headers)
    if error.status >= 500:
        # Logged above with its traceback; Django need not log it again.
        response._has_been_logged = True
    return response
