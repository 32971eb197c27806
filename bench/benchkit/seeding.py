"""The users the benchmark creates (Okta-like, reproducible from their number), and `seed`,
which creates them through `POST /Users`.
"""

from __future__ import annotations

import collections
import random

from .client import Server, run_bounded, send
from .results import Result, rounded

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


GIVEN_NAMES = _words(
    """
    Aaliyah Aiden Akira Alejandro Amara Ana Andrei Anika Arjun Ava Beatriz Benjamin Carlos
    Chen Chloe Daniel Dmitri Elena Emeka Emma Fatima Felix Grace Hana Hiroshi Ibrahim Ingrid
    Isabella Jamal Javier Kai Kenji Laila Liam Lucia Mateo Maya Mei Mohammed Nadia Noah Olga
    Omar Priya Rafael Sakura Samuel Sofia Tariq Wei Yusuf Zoe
    """
)


FAMILY_NAMES = _words(
    """
    Abara Adams Ahmed Alvarez Andersen Baker Bianchi Brown Campbell Castillo Chen Cohen
    Costa Dubois Edwards Evans Fernandez Fischer Garcia Gonzalez Haddad Hansen Hernandez Ito
    Ivanova Jackson Jensen Johnson Kim Kowalski Kumar Larsen Lee Lopez Martin Martinez Meyer
    Miller Moreau Murphy Nakamura Nguyen Novak Okafor Olsen Park Patel Petrov Quinn Rossi
    Sato Schmidt Silva Singh Smith Sousa Tanaka Taylor Thompson Walker Wang Williams Wilson
    Yamamoto Young Zhang
    """
)


DEPARTMENTS = (
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "Human Resources",
    "Legal",
    "Customer Success",
    "Operations",
    "Product",
    "IT",
)


OKTA_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def user_name(i: int) -> str:
    """Return the userName of seeded user number `i` (1-based)."""
    return f"user{i:06d}@example.com"


def user_document(i: int) -> dict:
    """Return the body Okta would POST to create seeded user number `i`.

    The body depends on `i` alone, so that a resumed or repeated seeding sends the same users.
    """
    rng = random.Random(f"scimbench-user-{i}")
    given, family = rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)
    name = user_name(i)
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "userName": name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": name, "type": "work"}],
        "displayName": f"{given} {family}",
        "locale": "en-US",
        "externalId": "00u" + "".join(rng.choice(OKTA_ID_ALPHABET) for _ in range(17)),
        "active": rng.random() < 0.95,
        ENTERPRISE_SCHEMA: {
            "employeeNumber": f"E{i:07d}",
            "department": rng.choice(DEPARTMENTS),
        },
    }


def seed(server: Server, *, users: int, start: int, concurrency: int, duration: float) -> Result:
    """Create users `start`..`users` with `POST /Users`; a 409 (already there) is skipped."""
    result = Result("seed")
    counts = collections.Counter()

    def check(client, i):
        reply = send(client, "POST", "/Users", json=user_document(i))
        if reply.status == 201:
            result.ok(reply.ms)
            counts["created"] += 1
        elif reply.status == 409:
            result.ok(reply.ms)
            counts["skipped"] += 1
        else:
            result.fail(reply.reason(), f"{user_name(i)}: {reply.sample()}")

    run_bounded(
        result,
        range(start, users + 1),
        check,
        server=server,
        concurrency=concurrency,
        duration=duration,
        progress_every=10,
    )
    result.extra = {
        "created": counts["created"],
        "skipped_existing": counts["skipped"],
        "users_per_s": rounded(counts["created"] / result.seconds if result.seconds else None),
    }
    return result
