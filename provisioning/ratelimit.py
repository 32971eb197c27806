"""Per-tenant rate limits, shared by every worker and instance through PostgreSQL.

A tenant with a limit of `rate` requests per second and a burst of `burst` may send `burst`
requests at once, then one every 1/rate seconds. The state is one row per tenant holding
GCRA's theoretical arrival time (`tat`), the instant the tenant's bucket would be full again;
GCRA is a token bucket kept as one number. One statement reads and moves it under the row's
lock, so concurrent requests of any process queue on that row for a few microseconds and
none slips past the limit. The clock is PostgreSQL's, the same for every instance.

A tenant without a limit costs nothing: its limit arrives with the token check
(`provisioning.tokens`, which joins the tenant) and no statement is run.
"""

from __future__ import annotations

import math
import re

from django.db import connection

from .models import RateLimitBucket, Tenant
from .scim.errors import TooManyRequests

# GCRA: a request at `now` moves `tat` to max(tat, now) + interval; it is let through when
# that is at most now + burst * interval. EXCLUDED.tat is now + interval, the value of a
# full bucket; `slack` is (burst - 1) * interval. A refused request leaves `tat` as it was.
_SQL = f"""
INSERT INTO {RateLimitBucket._meta.db_table} AS b (tenant_id, tat, allowed)
VALUES (%(tenant)s, EXTRACT(EPOCH FROM statement_timestamp())::float8 + %(interval)s, true)
ON CONFLICT (tenant_id) DO UPDATE SET
    allowed = GREATEST(b.tat + %(interval)s, EXCLUDED.tat) <= EXCLUDED.tat + %(slack)s,
    tat = CASE WHEN GREATEST(b.tat + %(interval)s, EXCLUDED.tat) <= EXCLUDED.tat + %(slack)s
               THEN GREATEST(b.tat + %(interval)s, EXCLUDED.tat) ELSE b.tat END
RETURNING allowed, tat - EXTRACT(EPOCH FROM statement_timestamp())::float8
"""

SPEC = re.compile(r"(?P<rate>\d+(?:\.\d+)?)/s(?:,(?P<burst>\d+))?")


def burst(tenant: Tenant) -> int:
    """Return the tenant's burst: as configured, else one second's worth of requests."""
    return tenant.rate_limit_burst or max(1, math.ceil(tenant.rate_limit))


def check(tenant: Tenant) -> None:
    """Count a request of `tenant` against its limit; raise TooManyRequests when it is over,
    with the whole seconds until a request would be let through (RFC 6585 §4, RFC 9110
    §10.2.3: Okta reads `Retry-After` only as an integer)."""
    if tenant.rate_limit is None:
        return
    interval = 1.0 / tenant.rate_limit
    slack = (burst(tenant) - 1) * interval
    with connection.cursor() as cursor:
        cursor.execute(_SQL, {"tenant": tenant.pk, "interval": interval, "slack": slack})
        allowed, ahead = cursor.fetchone()
    if not allowed:
        raise TooManyRequests(max(1, math.ceil(ahead - slack)))


def parse(spec: str) -> tuple[float | None, int | None]:
    """Return (rate, burst) from `N/s`, `N/s,BURST` or `off` (no limit: None, None)."""
    if spec.strip().lower() == "off":
        return None, None
    match = SPEC.fullmatch(spec.strip())
    if not match or float(match["rate"]) <= 0 or match["burst"] == "0":
        raise ValueError(
            f"'{spec}' is not a rate limit: expected N/s, N/s,BURST (e.g. 25/s,50) or off"
        )
    return float(match["rate"]), int(match["burst"]) if match["burst"] else None


def describe(tenant: Tenant) -> str:
    """Return the tenant's limit as `parse` reads it."""
    if tenant.rate_limit is None:
        return "off"
    return f"{tenant.rate_limit:g}/s,{burst(tenant)}"
