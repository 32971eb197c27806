"""Response renderers: `application/scim+json` first (RFC 7644 §8.1), `application/json` for
clients that ask only for it."""

from rest_framework import renderers


class SCIMRenderer(renderers.JSONRenderer):
    media_type = "application/scim+json"
    format = "scim"


class JSONRenderer(renderers.JSONRenderer):
    media_type = "application/json"
    format = "json"
