"""Who is acting: the token or admin user behind a write, and the request it came in.

The request path makes one call, `bind(request)` (see `RequestContextMiddleware`), and the
storage layer reads `current()` when it records a change. The actor is worked out when it is
read, not when the request arrives, because the SCIM endpoint checks the token inside the view.
Outside a request (management commands, the shell) the actor is the system.
"""

import ipaddress
import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from . import app_settings

# An incoming X-Request-ID is kept only when it is this tame; else the server makes one.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
USER_AGENT_MAX = 512

_request: ContextVar = ContextVar("provisioning_request", default=None)


@dataclass(frozen=True)
class Actor:
    """What a change record says about who made the change and through which request."""

    token_name: str = ""
    token_prefix: str = ""
    admin_user: str = ""
    request_id: str = ""
    client_ip: str | None = None
    user_agent: str = ""


SYSTEM = Actor()


def request_id(request) -> str:
    """Return the request's id: a sane incoming `X-Request-ID`, else a new one."""
    incoming = request.META.get("HTTP_X_REQUEST_ID", "")
    return incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex


def bind(request):
    """Make `request` the one whose actor `current()` reports; return the token for `unbind`."""
    return _request.set(request)


def unbind(token) -> None:
    """Forget the request bound by `bind`."""
    _request.reset(token)


def current() -> Actor:
    """Return who is acting now: the request's token or admin user, or the system."""
    request = _request.get()
    if request is None:
        return SYSTEM
    token_name = token_prefix = admin_user = ""
    # A SCIM endpoint sets the request's token (provisioning.http); the admin's
    # AuthenticationMiddleware sets a django.contrib.auth user.
    token = getattr(request, "token", None)
    user = getattr(request, "user", None)
    if token is not None:
        token_name, token_prefix = token.name, token.prefix
    elif getattr(user, "is_authenticated", False):
        admin_user = user.get_username()
    return Actor(
        token_name=token_name,
        token_prefix=token_prefix,
        admin_user=admin_user,
        request_id=request.request_id,
        client_ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
    )


def client_ip(request) -> str | None:
    """Return the client's address; behind a proxy, the one the proxy appended last."""
    address = request.META.get("REMOTE_ADDR", "")
    if app_settings.get("TRUST_X_FORWARDED_FOR"):
        address = request.META.get("HTTP_X_FORWARDED_FOR", address).split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
