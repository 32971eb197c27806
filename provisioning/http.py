"""The HTTP side of every endpoint under /scim/v2: bearer tokens, media types, request bodies,
responses and the one place that turns errors into SCIM error bodies (RFC 7644 §3.12, §8.1).

This is plain Django rather than a REST framework. A SCIM request needs little of one (a
bearer token, two media types, JSON in and out), and on this path its cost was most of the
server's: bench/README.md has the profile that led here.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable

import orjson
from django.core.exceptions import SuspiciousOperation
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.views import defaults

from . import app_settings, oauth, ratelimit, tokens
from .scim import errors
from .storage import statements

logger = logging.getLogger(__name__)

SCIM_JSON = "application/scim+json"
JSON = "application/json"
MEDIA_TYPES = (SCIM_JSON, JSON)
# Every method a SCIM endpoint may take (RFC 7644 §3.2); SCIM defines no OPTIONS.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# The methods that only read, and so may presume their token (`Endpoint.presumed`).
READS = ("GET", "HEAD")
# Seconds a client is asked to wait before trying again while the database is unreachable.
RETRY_AFTER_SECONDS = 5


def json_bytes(value) -> bytes:
    """Return `value` as UTF-8 JSON.

    orjson cannot write an integer past 64 bits or a lone surrogate (a startIndex echoed as
    sent, an error quoting what it refuses); the standard library writes those, escaped.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


def respond(
    body: dict | bytes | None,
    status: int = 200,
    headers: dict | None = None,
    media_type: str = SCIM_JSON,
) -> HttpResponse:
    """Return a response carrying `body` (a JSON document, or JSON already encoded)."""
    if body is None:
        response = HttpResponse(status=status)
        del response["Content-Type"]
    else:
        content = body if isinstance(body, bytes) else json_bytes(body)
        response = HttpResponse(content, status=status, content_type=media_type)
        # What CommonMiddleware adds elsewhere; SCIM responses do not pass through it.
        response["Content-Length"] = str(len(content))
    if headers:
        for name, value in headers.items():
            response[name] = value
    return response


def error_response(
    error: errors.SCIMError, media_type: str = SCIM_JSON, headers: dict | None = None
) -> HttpResponse:
    """Return the response that answers `error` with a SCIM error body (RFC 7644 §3.12)."""
    response = respond(error.to_scim(), error.status, headers, media_type)
    response.scim_type = error.scim_type
    return response


def negotiate(accept: str | None) -> str:
    """Return the media type to answer in: SCIM's own unless the client prefers
    application/json (RFC 7644 §8.1); 406 when it accepts neither.

    Each type takes the quality of the most specific range that names it, so
    `application/scim+json;q=0, */*` refuses SCIM's type (RFC 9110 §12.5.1); at equal
    quality SCIM's type wins.
    """
    if not accept:
        return SCIM_JSON
    ranges = []
    for item in accept.split(","):
        media_range, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if 0.0 <= quality <= 1.0:  # a range with a malformed weight counts for nothing
            ranges.append((media_range.lower(), quality))
    scim, plain = _quality(ranges, SCIM_JSON), _quality(ranges, JSON)
    if max(scim, plain) <= 0:
        raise errors.NotAcceptable()
    return SCIM_JSON if scim >= plain else JSON


def _quality(ranges: list[tuple[str, float]], media_type: str) -> float:
    """Return the quality that the most specific of `ranges` gives `media_type`."""
    specificity = {media_type: 3, media_type.split("/")[0] + "/*": 2, "*/*": 1}
    best = (0, 0.0)
    for media_range, quality in ranges:
        rank = specificity.get(media_range, 0)
        if rank > best[0]:
            best = (rank, quality)
    return best[1]


def bearer_secret(request: HttpRequest) -> str:
    """Return the bearer token of the request's `Authorization` header (RFC 6750 §2.1)."""
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if not parts or parts[0].lower() != "bearer":
        raise Unauthenticated("Authentication credentials were not provided.")
    if len(parts) != 2:
        raise Unauthenticated("Malformed Authorization header: expected 'Bearer <token>'.")
    if not parts[1].isascii():
        raise Unauthenticated("The bearer token is not valid.")
    return parts[1]


def authenticate(secret: str) -> tokens.Token | oauth.AccessToken | None:
    """Return the static token or the OAuth access token that `secret` is, or None."""
    if oauth.looks_like_jwt(secret):
        access_token = oauth.authenticate(secret)
        if access_token is not None:
            return access_token
    return tokens.authenticate(secret)


class Unauthenticated(errors.Unauthorized):
    """A 401 that tells the client which scheme to use (RFC 6750 §3)."""

    headers = {"WWW-Authenticate": 'Bearer realm="scim"'}


class ServiceUnavailable(errors.SCIMError):
    status = 503
    default_detail = "The database is unavailable or overloaded; try again shortly."
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


def read_json(request: HttpRequest, limit: int | None = None):
    """Return the request body as JSON: a SCIM or plain JSON media type, at most `limit`
    (else MAX_PAYLOAD_BYTES) long (RFC 7644 §8.1, §3.12), sent with a length or in chunks."""
    raw = _read_body(request, limit or app_settings.get("MAX_PAYLOAD_BYTES"))
    if not raw:
        raise errors.InvalidSyntax("The request has no body; it must be a JSON object.")
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type not in MEDIA_TYPES:
        raise errors.UnsupportedMediaType()
    # The standard library reads request bodies: orjson would read an integer past 64 bits as
    # an inexact float. RFC 8259: NaN and Infinity are no JSON.
    try:
        return json.loads(
            raw.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float
        )
    except (ValueError, RecursionError) as exc:
        raise errors.InvalidSyntax(f"The request body is not valid JSON: {exc}") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    """Read a JSON number with a fraction or exponent; one past a float's range (`1e400`) is
    refused, not read as infinity, which JSON cannot hold either (RFC 8259 §6)."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of range")
    return value


def _read_body(request: HttpRequest, limit: int) -> bytes:
    """Return the body, refusing one longer than `limit` bytes before reading it all."""
    too_large = errors.PayloadTooLarge(f"The request body exceeds {limit} bytes.")
    meta = request.META
    if meta.get("CONTENT_LENGTH"):
        try:
            length = int(meta["CONTENT_LENGTH"])
        except ValueError:
            raise errors.InvalidSyntax("The Content-Length header is not a number.") from None
        if length > limit:
            raise too_large
        raw = request.read(limit + 1)
    elif "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        # No length: the server has decoded the chunks into a stream that ends with the body
        # (RFC 9112 §7.1), which Django's own stream, bounded by the missing length, would read
        # as empty.
        raw = meta["wsgi.input"].read(limit + 1)
    else:
        return b""
    if len(raw) > limit:
        raise too_large
    return raw


class Endpoint:
    """One SCIM endpoint. Subclasses define `get`, `post`, ... taking the request and the URL's
    arguments and returning a response; `as_view` makes the Django view.

    Every request is authenticated, whatever the endpoint: the token names the tenant.
    """

    def __init__(self, **attributes) -> None:
        for name, value in attributes.items():
            setattr(self, name, value)
        self.allowed = tuple(m for m in METHODS if hasattr(self, m.lower()))

    @classmethod
    def as_view(cls, **attributes) -> Callable:
        endpoint = cls(**attributes)

        def view(request, **kwargs):
            return endpoint.dispatch(request, **kwargs)

        view.csrf_exempt = True
        return view

    def handler(self, method: str) -> Callable:
        """Return the method's handler; HEAD is a GET whose body the server leaves out."""
        method = "GET" if method == "HEAD" else method
        if method not in self.allowed:
            raise errors.MethodNotAllowed(f"Method '{method}' is not allowed here.")
        return getattr(self, method.lower())

    def dispatch(self, request: HttpRequest, **kwargs) -> HttpResponse:
        media_type = SCIM_JSON
        try:
            media_type = negotiate(request.META.get("HTTP_ACCEPT"))
            request.scim_media_type = media_type
            secret = bearer_secret(request)
            if request.method in READS and not oauth.looks_like_jwt(secret):
                response = self.presumed(request, secret, kwargs)
                if response is not None:
                    return response
            request.token = authenticate(secret)
            if request.token is None:
                raise Unauthenticated("The bearer token is not valid, has expired or was revoked.")
            # A static token's check may have leased from the bucket too; an access token's
            # never has (provisioning.tokens).
            ratelimit.check(request.token.tenant, getattr(request.token, "leased", None))
            return self.handler(request.method)(request, **kwargs)
        except errors.SCIMError as error:
            headers = dict(getattr(error, "headers", {}))
            if isinstance(error, errors.MethodNotAllowed):
                headers["Allow"] = ", ".join(self.allowed)
            return error_response(error, media_type, headers)
        except SuspiciousOperation:
            # Django refuses what it deems an attack on itself, e.g. too many query parameters.
            error = errors.SCIMError("The request was refused: it exceeds a limit of the server.")
            return error_response(error, media_type)
        except (OperationalError, InterfaceError):
            logger.warning("The database is unavailable", exc_info=True)
            error = ServiceUnavailable()
            return error_response(error, media_type, error.headers)
        except Exception:
            logger.exception("Unhandled error")
            response = error_response(errors.InternalError(), media_type)
            # Logged above with its traceback; Django need not log it again.
            response._has_been_logged = True
            return response

    def presumed(self, request, secret: str, kwargs) -> HttpResponse | None:
        """Answer a read under the token this process last accepted for `secret`, its check
        carried by the read's first statement (`tokens.Presumed`): a round trip less on what
        an IdP sends most. None when the process knows no such token, or when the check
        finds it changed: the request is then answered as any other.

        Whatever the read answers, an error included, goes out only once the check has
        found the token usable.
        """
        presumed = tokens.presume(secret)
        if presumed is None:
            return None
        request.token = presumed.token
        had_connection = connection.connection is not None
        statements.ahead(presumed)
        try:
            try:
                response = self.handler(request.method)(request, **kwargs)
            except (tokens.Unconfirmed, OperationalError, InterfaceError):
                raise
            except BaseException:
                statements.settle(presumed)
                raise
            statements.settle(presumed)
            return response
        except tokens.Unconfirmed:
            pass
        except (OperationalError, InterfaceError) as error:
            if presumed.confirmed or not had_connection or connection.in_atomic_block:
                raise
            if not connection.is_usable():
                # The connection that was open is gone (the database restarted): the request
                # is answered anew, on a new connection.
                connection.close()
            else:
                # The statement failed, not the connection (a statement timeout): the error
                # is the answer, once the token is found usable.
                try:
                    statements.settle(presumed)
                except tokens.Unconfirmed:
                    pass
                else:
                    raise error
        finally:
            statements.forget(presumed)
        request.token = None
        return None


def bad_request(request, exception) -> HttpResponse:
    """Answer a request Django refuses before any view (a Host not in ALLOWED_HOSTS) with a
    SCIM 400 under /scim/, and with Django's own page elsewhere."""
    if request.path.startswith("/scim/"):
        return error_response(
            errors.SCIMError(
                "The request was refused: its Host header or another part of it is not accepted here."
            )
        )
    return defaults.bad_request(request, exception)


def server_error(request) -> HttpResponse:
    """Answer an error raised outside an endpoint (e.g. in middleware) with a SCIM 500 body.

    Django has already logged the exception with its traceback through `django.request`.
    """
    return error_response(errors.InternalError())
