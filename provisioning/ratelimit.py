"""Per-tenant rate limits, shared by every worker and instance through PostgreSQL.

A tenant with a limit of `rate` requests per second and a burst of `burst` may send `burst`
requests at once, then one every 1/rate seconds. The state is one row per tenant holding
GCRA's theoretical arrival time (`tat`), the instant the tenant's bucket would be full again;
GCRA is a token bucket kept as one number. One statement reads and moves it under the row's
lock, so concurrent requests of any process queue on that row and none slips past the limit.
The clock is PostgreSQL's, the same for every instance.

A process leases requests from the bucket in that one statement and lets them through
itself. A lease is at most an eighth of what the bucket holds (so one, the request asking,
when it holds fewer than 16) and at most LEASE_MOST; within that, a process asks for one
request, then for twice its last lease each time it needs another within LEASE_SECONDS of
the last. A tenant sending hundreds of requests a second to a process then asks the bucket
every few hundred requests, whatever the tenant's rate; a tenant sending a request now and
then leases one at a time.

Asking the bucket costs no statement of its own once a process has seen a token of the
tenant limited: the token check, the first statement of every request, takes the lease
with the token (`leasing`, `provisioning.tokens`), under the limit it reads from the
tenant's row, and only for a usable token. The process knows before that statement whether
it needs a lease (`wanted`: its own leases and refusals, and the tenants of the tokens it
has seen). So a bucket too small to lease more than one request at a time (a burst under 16)
costs each request an update of the bucket's row inside its token check, not a round trip.
The first request of a tenant in a process, a bucket without its row, and a request whose
limit is not the one its lease or refusal was taken under ask with the bucket's own
statement, as below. The arithmetic, the row and its lock are the same either way, and so is
the argument that follows.

The limit stays exact, in every span of time and not only on average. A lease of n requests
moves `tat` n intervals on, as n requests would: it owns that stretch of the bucket's time,
up to the `tat` it left (`end`). What the lease has not used lapses as time reaches `end`:
at any instant it keeps at most (end - now) * rate requests. Leases own disjoint stretches,
all before the bucket's `tat`, so all the leases of all processes together keep at most
(tat - now) * rate requests, which is exactly what the bucket lacks to be full: what passes
in any span through leases and through the bucket is at most what the bucket alone would
let through. (Lapsing costs the tenant nothing: the bucket regains those requests as they
lapse.) A lease is also dropped LEASE_SECONDS after it was taken, and at once when the
tenant's limit is no longer the one it was taken under (the limit arrives with each
request's token check, so no request read under a new limit uses an old lease). What a
dropped lease had left is not returned, which would cost a statement: the bucket lacks those
requests until they lapse, i.e. until it refills them at the tenant's rate. That is at most
the lease, and a process holds a large lease only when its last, half as large, was used up
(or lapsed) within LEASE_SECONDS: the next request after a pause leases one again. Only a
limit changed and changed back within LEASE_SECONDS can bring an old lease back into use
after the bucket was measured under another limit, as with refusals below.

A refused request tells how long the bucket stays without room, at most one interval: under
an unchanged limit no request can fit before then, whatever other processes do (they only
take), so until then the process refuses the tenant's requests itself, without a statement,
counting from before it asked (so never past the bucket's own answer). A client that floods
its limit costs a statement per interval, not one per request. What can end the wait earlier
is outside the limit's arithmetic: the limit changed and changed back, or the bucket's row
was lost (a database crash empties the table); a request is then refused for at most one
interval more than the bucket would.

A tenant without a limit costs nothing: its limit arrives with the token check
(`provisioning.tokens`, which joins the tenant), which for it leases nothing and stays the
statement it was, and no statement is run.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from time import monotonic

from .models import RateLimitBucket, Tenant
from .scim.errors import TooManyRequests
from .storage.statements import fetch

LEASE_SHARE = 8  # a lease is at most 1/LEASE_SHARE of what the bucket holds...
LEASE_MOST = 4096  # ...and at most this many requests
LEASE_SECONDS = 1.0  # a lease is dropped this long after it was taken, used or not

# GCRA at `now`: from max(tat, now), each request taken moves `tat` one interval on, and the
# bucket holds as many requests (`room`) as keep `tat` at most `now + window`, the window
# being burst * interval. The lease is what the process wants, at most an eighth of the room
# and at least one, and never more than the room: none when the bucket has none, leaving
# `tat` where it was. A `tat` past `now + window` (left by a slower limit before this one)
# counts as an empty bucket. A new row is a full bucket. The epsilon keeps a float just under
# a whole number from costing a request.
#
# `now` never goes back for a row: it is the statement's clock or the row's `seen`, the
# latest `now` a statement wrote, whichever is later. A statement reads its clock when it
# starts, before it waits for the row's lock; one that waited behind a later statement would
# otherwise measure the bucket at an earlier instant, find it fuller than the later one left
# it, and hand out again requests already leased.
#
# The clock is read once per statement, as `date_part` (a float8): EXTRACT returns a numeric,
# whose conversion to float8, once for each of the many places the clock is used, cost as
# much as the rest of the statement.
_CLOCK = "date_part('epoch', statement_timestamp())"


def _taking(clock: str, interval: str, window: str, share: str, want: str) -> tuple[str, str, str]:
    """Return the SQL of the bucket's `now`, its `base` and the lease taken from it, for a
    bucket row `b` and the given SQL values."""
    now = f"GREATEST({clock}, b.seen)"
    base = f"GREATEST(LEAST(b.tat, {now} + {window}), {now})"
    room = f"FLOOR(({now} + {window} - {base}) / {interval} + 1e-9)"
    taken = f"LEAST({room}, GREATEST(1, LEAST({want}, FLOOR({room} / {share}))))::integer"
    return now, base, taken


# The proposed row's `seen` is the clock, read once.
_NOW, _BASE, _TAKEN = _taking(
    "EXCLUDED.seen", "%(interval)s", "%(window)s", "%(share)s", "%(want)s"
)
_SQL = f"""
INSERT INTO {RateLimitBucket._meta.db_table} AS b (tenant_id, tat, taken, seen)
VALUES (%(tenant)s, {_CLOCK} + %(interval)s * %(first)s, %(first)s, {_CLOCK})
ON CONFLICT (tenant_id) DO UPDATE SET
    taken = {_TAKEN},
    tat = {_BASE} + %(interval)s * {_TAKEN},
    seen = {_NOW}
RETURNING taken, tat - seen
"""


def leasing(source: str) -> str:
    """Return an UPDATE that leases requests from the bucket of each row of `source`, a
    relation of (tenant, rate, burst, want), the limit as the tenant's row holds it and the
    lease the process wants (`wanted`), RETURNING what `Leased` holds but `asked`.

    The token check carries it (`provisioning.tokens`), so that a request needing a lease
    pays no statement of its own: the same arithmetic as the bucket's own statement, on the
    same row under its lock, with the limit read by that statement. A bucket without its
    row yet updates nothing: `check` then asks with its own statement, which makes it.
    """
    now, base, taken = _taking("p.clock", "p.step", "p.span", str(LEASE_SHARE), "p.want")
    # `size` is the burst as `burst` reckons it: as configured, else a second's worth.
    return f"""
UPDATE {RateLimitBucket._meta.db_table} AS b SET
    taken = {taken},
    tat = {base} + p.step * {taken},
    seen = {now}
FROM (
    SELECT tenant, want, step, size * step AS span, {_CLOCK} AS clock
    FROM (
        SELECT tenant, want, 1::float8 / rate AS step,
            COALESCE(NULLIF(burst, 0), GREATEST(1, CEIL(rate))) AS size
        FROM {source}
    ) AS limits
) AS p
WHERE b.tenant_id = p.tenant
RETURNING b.taken, b.tat - b.seen"""


@dataclass(slots=True)
class Lease:
    """Requests a process took from a tenant's bucket and has not let through yet."""

    left: int
    end: float  # monotonic() when the last of them lapses: the `tat` the lease left
    expires: float  # monotonic() when the lease is dropped, used or not
    limit: tuple[float, int]  # (rate, burst) it was taken under
    taken: int  # its size, the request that asked for it included


@dataclass(slots=True)
class Leased:
    """What the token check's statement took from the bucket (`leasing`) for a request."""

    asked: float  # monotonic() before the statement
    taken: int  # the lease, the request asking included; 0 when the bucket had no room
    ahead: float  # seconds from the statement's `now` to the `tat` it left


_leases: dict[int, Lease] = {}
# When each tenant's bucket has room again (monotonic()), under the limit (rate,
# burst) that found it full.
_full_until: dict[int, tuple[float, float, int]] = {}
_lock = threading.Lock()

SPEC = re.compile(r"(?P<rate>\d+(?:\.\d+)?)/s(?:,(?P<burst>\d+))?")


def burst(tenant: Tenant) -> int:
    """Return the tenant's burst: as configured, else one second's worth of requests."""
    return tenant.rate_limit_burst or max(1, math.ceil(tenant.rate_limit))


def lease_size(room: int, want: int) -> int:
    """Return how many requests a process wanting `want` leases from a bucket holding `room`
    (as the statement does)."""
    return min(room, max(1, min(want, room // LEASE_SHARE)))


def _usable(lease: Lease, rate: float, now: float) -> int:
    """Return how many requests `lease` can still let through at `now`: what has lapsed is
    gone, at most (end - now) * rate are left (module doc)."""
    if now >= lease.expires:
        return 0
    return min(lease.left, math.floor((lease.end - now) * rate + 1e-9))


def wanted(tenant: Tenant | None) -> int:
    """Return the lease that a token check should take with it (`leasing`) for a token whose
    tenant was `tenant` when this process last accepted it (None: never), or 0 when it should
    take none: the tenant had no limit then, or this process can let its next request
    through, or refuse it, by itself.

    It is what `check` would ask for, judged under the limit of the lease or the refusal the
    process holds; `check` makes sure the limit is still that one."""
    if tenant is None or tenant.rate_limit is None:
        return 0
    now = monotonic()
    with _lock:
        full = _full_until.get(tenant.pk)
        if full is not None and full[0] > now:
            return 0
        lease = _leases.get(tenant.pk)
        if lease is None or now >= lease.expires:
            return 1
        if _usable(lease, lease.limit[0], now) > 0:
            return 0
        return min(LEASE_MOST, 2 * lease.taken)


def check(tenant: Tenant, leased: Leased | None = None) -> None:
    """Count a request of `tenant` against its limit; raise TooManyRequests when it is over,
    with the whole seconds until a request would be let through (RFC 6585 §4, RFC 9110
    §10.2.3: Okta reads `Retry-After` only as an integer, docs/okta.md).

    `leased` is what the request's token check took from the bucket under the limit `tenant`
    holds (read by that same statement), if it took anything."""
    if tenant.rate_limit is None:
        return
    rate, size = tenant.rate_limit, burst(tenant)
    limit = (rate, size)
    if leased is not None:
        _settle(tenant.pk, limit, leased)
        return
    want = 1
    now = monotonic()
    with _lock:
        lease = _leases.pop(tenant.pk, None)
        if lease is not None and lease.limit == limit and now < lease.expires:
            left = _usable(lease, rate, now)
            if left > 0:
                lease.left = left - 1
                _leases[tenant.pk] = lease
                return
            want = min(LEASE_MOST, 2 * lease.taken)  # used up (or lapsed) within a second
        full = _full_until.get(tenant.pk)
        if full is not None:
            wait = full[0] - now
            if wait > 0 and full[1:] == limit:
                raise TooManyRequests(max(1, math.ceil(wait)))
            del _full_until[tenant.pk]  # over, or found under another limit
    interval = 1.0 / rate
    params = {
        "tenant": tenant.pk,
        "interval": interval,
        "window": size * interval,
        "share": LEASE_SHARE,
        "want": want,
        "first": lease_size(size, want),
    }
    asked = monotonic()  # no later than the statement's own clock reading, nor than `seen`
    ((taken, ahead),) = fetch(_SQL, params)
    _settle(tenant.pk, limit, Leased(asked, taken, ahead))


def _settle(tenant: int, limit: tuple[float, int], leased: Leased) -> None:
    """Let the request through on the lease it took, keeping the rest; or, when the bucket
    had no room, refuse it and keep the refusal until the bucket has room again."""
    rate, size = limit
    interval = 1.0 / rate
    if not leased.taken:
        # One request fits once `tat` is at most now + window - interval.
        wait = leased.ahead + interval - size * interval
        with _lock:
            _leases.pop(tenant, None)
            _full_until[tenant] = (leased.asked + wait, rate, size)
        raise TooManyRequests(max(1, math.ceil(wait)))
    # `asked` precedes the statement's clock reading: the lease lapses no later than `tat`.
    lease = Lease(
        leased.taken - 1,
        leased.asked + leased.ahead,
        leased.asked + LEASE_SECONDS,
        limit,
        leased.taken,
    )
    with _lock:
        _full_until.pop(tenant, None)
        _leases[tenant] = lease


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
