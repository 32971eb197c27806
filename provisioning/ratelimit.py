"""Per-tenant rate limits, shared by every worker and instance through PostgreSQL.

A tenant with a limit of `rate` requests per second and a burst of `burst` may send `burst`
requests at once, then one every 1/rate seconds. The state is one row per tenant holding
GCRA's theoretical arrival time (`tat`), the instant the tenant's bucket would be full again;
GCRA is a token bucket kept as one number. One statement reads and moves it under the row's
lock, so concurrent requests of any process queue on that row and none slips past the limit.
The clock is PostgreSQL's, the same for every instance.

A process takes up to BATCH_SECONDS' worth of the rate at once (at least one request) and
lets that many requests through before it asks again: a tenant sending hundreds of requests a
second then costs a statement every few dozen requests instead of one per request, and the
row is not fought over by every request of every worker. The price: requests a process has
taken but not used yet wait for its next ones, so at most `processes * rate * BATCH_SECONDS`
requests beyond the burst can pass at once. Below 1 / BATCH_SECONDS requests per second the
batch is one request, and the limit is exact.

A refused request tells how long the bucket stays without room, at most one interval: under
an unchanged limit no request can fit before then, whatever other processes do (they only
take), so until then the process refuses the tenant's requests itself, without a statement,
counting from before it asked (so never past the bucket's own answer). A client that floods
its limit costs a statement per interval, not one per request. What can end the wait earlier
is outside the limit's arithmetic: the limit changed and changed back, or the bucket's row
was lost (a database crash empties the table); a request is then refused for at most one
interval more than the bucket would.

A tenant without a limit costs nothing: its limit arrives with the token check
(`provisioning.tokens`, which joins the tenant) and no statement is run.
"""

from __future__ import annotations

import math
import re
import threading
from time import monotonic

from django.db import connection

from .models import RateLimitBucket, Tenant
from .scim.errors import TooManyRequests

BATCH_SECONDS = 0.05

# GCRA for `want` requests at `now`: from max(tat, now), each request taken moves `tat` one
# interval on; as many are taken (at most `want`) as keep `tat` at most `now + window`, the
# window being burst * interval. Taking none leaves `tat` where it was. A `tat` past
# `now + window` (left by a slower limit before this one) counts as an empty bucket. A new
# row is a full bucket. The epsilon keeps a float just under a whole number from costing a
# request.
_NOW = "EXTRACT(EPOCH FROM statement_timestamp())::float8"
_BASE = f"GREATEST(LEAST(b.tat, {_NOW} + %(window)s), {_NOW})"
_TAKEN = f"""LEAST(%(want)s, GREATEST(0, FLOOR(
        ({_NOW} + %(window)s - {_BASE}) / %(interval)s + 1e-9)))::integer"""
_SQL = f"""
INSERT INTO {RateLimitBucket._meta.db_table} AS b (tenant_id, tat, taken)
VALUES (%(tenant)s, {_NOW} + %(interval)s * %(first)s, %(first)s)
ON CONFLICT (tenant_id) DO UPDATE SET
    taken = {_TAKEN},
    tat = {_BASE} + %(interval)s * {_TAKEN}
RETURNING taken, tat - {_NOW}
"""

# Requests this process has taken from each tenant's bucket and not let through yet.
_taken: dict[int, int] = {}
# When each tenant's bucket has room again (monotonic()), under the limit (rate,
# burst) that found it full.
_full_until: dict[int, tuple[float, float, int]] = {}
_lock = threading.Lock()

SPEC = re.compile(r"(?P<rate>\d+(?:\.\d+)?)/s(?:,(?P<burst>\d+))?")


def burst(tenant: Tenant) -> int:
    """Return the tenant's burst: as configured, else one second's worth of requests."""
    return tenant.rate_limit_burst or max(1, math.ceil(tenant.rate_limit))


def check(tenant: Tenant) -> None:
    """Count a request of `tenant` against its limit; raise TooManyRequests when it is over,
    with the whole seconds until a request would be let through (RFC 6585 §4, RFC 9110
    §10.2.3: Okta reads `Retry-After` only as an integer, docs/okta.md)."""
    if tenant.rate_limit is None:
        return
    interval, size = 1.0 / tenant.rate_limit, burst(tenant)
    with _lock:
        if _taken.get(tenant.pk):
            _taken[tenant.pk] -= 1
            return
        full = _full_until.get(tenant.pk)
        if full is not None:
            wait = full[0] - monotonic()
            if wait > 0 and full[1:] == (tenant.rate_limit, size):
                raise TooManyRequests(max(1, math.ceil(wait)))
            del _full_until[tenant.pk]  # over, or found under another limit
    want = max(1, int(tenant.rate_limit * BATCH_SECONDS))
    params = {
        "tenant": tenant.pk,
        "interval": interval,
        "window": size * interval,
        "want": want,
        "first": min(want, size),
    }
    asked = monotonic()  # no later than the statement's own clock reading
    with connection.cursor() as cursor:
        cursor.execute(_SQL, params)
        taken, ahead = cursor.fetchone()
    if not taken:
        # One request fits once `tat` is at most now + window - interval.
        wait = ahead + interval - size * interval
        with _lock:
            _full_until[tenant.pk] = (asked + wait, tenant.rate_limit, size)
        raise TooManyRequests(max(1, math.ceil(wait)))
    with _lock:
        _taken[tenant.pk] = _taken.get(tenant.pk, 0) + taken - 1


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
