"""The documents of the discovery endpoints (RFC 7644 §4) and the ListResponse (§3.4.2).

Everything here is derived from the schema table and from what the server really supports;
a feature is advertised only once it works.
"""

from __future__ import annotations

from collections.abc import Sequence

from .schema import LIST_RESPONSE_URN, SERVICE_PROVIDER_CONFIG_SCHEMA_URN


def service_provider_config(
    base_url: str,
    *,
    max_results: int,
    default_count: int,
    bulk_max_operations: int,
    bulk_max_payload_size: int,
) -> dict:
    """Return the `/ServiceProviderConfig` document (RFC 7643 §5, RFC 9865 §4)."""
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA_URN],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": True},
        "bulk": {
            "supported": True,
            "maxOperations": bulk_max_operations,
            "maxPayloadSize": bulk_max_payload_size,
        },
        "filter": {"supported": True, "maxResults": max_results},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        # RFC 9865 §4. Cursors never expire (they name a position, not a stored result set),
        # so no cursorTimeout is given.
        "pagination": {
            "cursor": True,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": default_count,
            "maxPageSize": max_results,
        },
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication with a bearer token (RFC 6750 header form): "
                "one issued by the server's administrators, or a JWT access token (RFC 9068) "
                "from the OAuth 2.0 issuer a connection is set to trust.",
                "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base_url}/ServiceProviderConfig",
        },
    }


def list_response(
    resources: Sequence[dict],
    *,
    total: int,
    start_index: int | None,
    next_cursor: str | None = None,
    previous_cursor: str | None = None,
) -> dict:
    """Return a ListResponse (RFC 7644 §3.4.2); `itemsPerPage` is what this page holds.

    A page of cursor paging has no `startIndex` but may carry `nextCursor` and
    `previousCursor` (RFC 9865).
    """
    response: dict = {"schemas": [LIST_RESPONSE_URN], "totalResults": total}
    if start_index is not None:
        response["startIndex"] = start_index
    response["itemsPerPage"] = len(resources)
    if next_cursor:
        response["nextCursor"] = next_cursor
    if previous_cursor:
        response["previousCursor"] = previous_cursor
    response["Resources"] = list(resources)
    return response
