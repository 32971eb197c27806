"""Bearer-token authentication (RFC 6750) for the SCIM API, following DRF's contract.

`authenticate()` returns None when the request carries no bearer token, so DRF answers 401 with
`WWW-Authenticate`; it raises `AuthenticationFailed` for a token that is unknown, revoked or
expired. The token is never logged.
"""

from dataclasses import dataclass

from rest_framework import authentication, exceptions

from . import tokens
from .models import Tenant, Token


@dataclass(frozen=True)
class TenantPrincipal:
    """Who a request acts for: the tenant its token belongs to."""

    tenant: Tenant
    token: Token
    is_authenticated: bool = True


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected 'Bearer <token>'."
            )
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The bearer token is not valid.") from None
        token = tokens.authenticate(secret)
        if token is None:
            raise exceptions.AuthenticationFailed(
                "The bearer token is not valid, has expired or was revoked."
            )
        return TenantPrincipal(token.tenant, token), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="scim"'
