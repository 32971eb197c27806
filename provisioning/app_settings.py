"""App settings under the `SCIM` namespace of Django's settings, read when used.

| key                | default    | meaning                                                        |
| ------------------ | ---------- | -------------------------------------------------------------- |
| MAX_RESULTS        | 1000       | largest page a list returns (`filter.maxResults`)              |
| DEFAULT_COUNT      | 100        | page size when the client sends no `count`                     |
| MAX_PAYLOAD_BYTES  | 10485760   | largest request body accepted (413 beyond)                     |
| BULK_MAX_OPERATIONS | 1000     | most operations a Bulk request may hold (`bulk.maxOperations`) |
| BULK_MAX_PAYLOAD_BYTES | 1048576 | largest Bulk request body (`bulk.maxPayloadSize`)             |
| AUDIT_RETENTION_DAYS | 365      | change records older than this are removed by `scim_audit prune` |
| TRUST_X_FORWARDED_FOR | False   | take the client address from the proxy's `X-Forwarded-For`     |
| WEBHOOK_TIMEOUT_SECONDS | 10      | longest wait for a receiver's answer                          |
| WEBHOOK_BACKOFF_SECONDS | 5       | wait after a first failed delivery; it doubles with each one    |
| WEBHOOK_MAX_BACKOFF_SECONDS | 600 | longest wait between two attempts                              |
| WEBHOOK_RETRY_FOR_SECONDS | 86400 | after this long since the change, a delivery is marked failed  |
| SYNC_AUTH_USERS    | False      | keep a django.contrib.auth user in step with each User         |
| SYNC_AUTH_GROUPS   | False      | keep a django.contrib.auth group in step with each Group       |
"""

from django.conf import settings

DEFAULTS = {
    "MAX_RESULTS": 1000,
    "DEFAULT_COUNT": 100,
    "MAX_PAYLOAD_BYTES": 10 * 1024 * 1024,
    "BULK_MAX_OPERATIONS": 1000,
    "BULK_MAX_PAYLOAD_BYTES": 1024 * 1024,
    "AUDIT_RETENTION_DAYS": 365,
    "TRUST_X_FORWARDED_FOR": False,
    "WEBHOOK_TIMEOUT_SECONDS": 10,
    "WEBHOOK_BACKOFF_SECONDS": 5,
    "WEBHOOK_MAX_BACKOFF_SECONDS": 600,
    "WEBHOOK_RETRY_FOR_SECONDS": 86400,
    "SYNC_AUTH_USERS": False,
    "SYNC_AUTH_GROUPS": False,
}


def get(name: str):
    """Return the app setting `name` from `settings.SCIM`, or its default."""
    return getattr(settings, "SCIM", {}).get(name, DEFAULTS[name])
