"""Sorting (RFC 7644 §3.4.2.3), index paging (§3.4.2.4), cursor paging (RFC 9865) and
POST /.search (§3.4.3)."""

import base64
import itertools
import json

import pytest

from tests.conftest import LIST_SCHEMA, assert_scim_error

SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture
def roster(make_user):
    """Five users created in this order, with names that sort differently from creation."""
    specs = [
        ("delta", {"name": {"familyName": "d"}, "emails": [{"value": "z@x.com", "type": "work"}]}),
        (
            "Alpha",
            {
                "name": {"familyName": "B"},
                "emails": [{"value": "a@x.com"}, {"value": "m@x.com", "primary": True}],
            },
        ),
        ("charlie", {"emails": [{"value": "c@x.com"}]}),
        ("bravo", {"name": {"familyName": "a"}}),
        ("echo", {"name": {"familyName": "C"}}),
    ]
    return [make_user(name, **attrs)["userName"] for name, attrs in specs]


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [r["userName"] for r in response.json()["Resources"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["delta", "Alpha", "charlie", "bravo", "echo"]),
        ({"sortBy": "userName"}, ["Alpha", "bravo", "charlie", "delta", "echo"]),
        (
            {"sortBy": "username", "sortOrder": "descending"},
            ["echo", "delta", "charlie", "bravo", "Alpha"],
        ),
        # Unassigned values come last when ascending, first when descending.
        ({"sortBy": "name.familyName"}, ["bravo", "Alpha", "echo", "delta", "charlie"]),
        (
            {"sortBy": "name.familyName", "sortOrder": "descending"},
            ["charlie", "delta", "echo", "Alpha", "bravo"],
        ),
        # A multi-valued attribute sorts by its primary value, else its first.
        ({"sortBy": "emails"}, ["charlie", "Alpha", "delta", "bravo", "echo"]),
        ({"sortBy": "emails.value"}, ["charlie", "Alpha", "delta", "bravo", "echo"]),
        (
            {"sortBy": "meta.created", "sortOrder": "descending"},
            ["echo", "bravo", "charlie", "Alpha", "delta"],
        ),
    ],
    ids=[
        "default-creation-order",
        "userName",
        "descending",
        "nulls-last-asc",
        "nulls-last-desc",
        "multi-valued-primary",
        "multi-valued-sub",
        "meta.created",
    ],
)
def test_sorting(scim, roster, params, expected):
    """sortBy/sortOrder order the results per RFC 7644 §3.4.2.3; the default order is stable."""
    assert names(scim.get("/Users", params)) == expected


@pytest.mark.parametrize(
    ("params", "scim_type", "detail"),
    [
        ({"sortBy": "nope"}, "invalidValue", "Unknown attribute"),
        ({"sortBy": "name"}, "invalidValue", "not a simple attribute"),
        ({"sortBy": "userName", "sortOrder": "sideways"}, "invalidValue", "sortOrder"),
        ({"startIndex": "one"}, "invalidValue", "startIndex"),
        ({"count": "1.5"}, "invalidValue", "count"),
        ({"cursor": "", "startIndex": "1"}, "invalidValue", "together"),
        ({"cursor": "bm9wZQ"}, "invalidCursor", "cursor"),
    ],
)
def test_bad_list_parameters(scim, roster, params, scim_type, detail):
    """Malformed list parameters are 400 with a scimType and a detail naming them."""
    assert_scim_error(scim.get("/Users", params), 400, scim_type, detail)


@pytest.mark.parametrize(
    ("params", "start", "expected"),
    [
        ({"startIndex": 2, "count": 2}, 2, ["Alpha", "charlie"]),
        ({"startIndex": 0, "count": 1}, 1, ["delta"]),
        ({"startIndex": -5, "count": 1}, 1, ["delta"]),
        ({"startIndex": 5, "count": 10}, 5, ["echo"]),
        ({"startIndex": 6}, 6, []),
        ({"count": -1}, 1, []),
        ({"count": 0}, 1, []),
    ],
)
def test_index_paging(scim, roster, params, start, expected):
    """startIndex is 1-based and clamps to 1; a negative count is 0; totalResults counts all
    matches and itemsPerPage what this page holds (RFC 7644 §3.4.2.4)."""
    body = scim.get("/Users", params).json()
    assert [r["userName"] for r in body["Resources"]] == expected
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (
        5,
        start,
        len(expected),
    )


def test_count_is_capped_at_max_results(scim, roster, settings):
    """A count above filter.maxResults returns at most maxResults (RFC 7644 §3.4.2.4)."""
    settings.SCIM = {**settings.SCIM, "MAX_RESULTS": 2}
    body = scim.get("/Users", {"count": 50}).json()
    assert body["itemsPerPage"] == 2 and body["totalResults"] == 5


def test_offset_pages_neither_skip_nor_repeat(scim, make_user):
    """Paging through with startIndex visits every user exactly once, in a stable order."""
    created = [make_user(f"user{i:02d}")["id"] for i in range(23)]
    seen = []
    for start in range(1, 24, 5):
        seen += [
            r["id"]
            for r in scim.get("/Users", {"startIndex": start, "count": 5}).json()["Resources"]
        ]
    assert seen == created


def test_cursor_paging_forward_and_back(scim, make_user):
    """RFC 9865: an empty cursor starts, nextCursor continues, previousCursor goes back; the
    last page has no nextCursor and cursor pages carry no startIndex."""
    created = [make_user(f"user{i:02d}")["id"] for i in range(7)]
    pages, cursor, bodies = [], "", []
    while cursor is not None:
        body = scim.get("/Users", {"cursor": cursor, "count": 3}).json()
        bodies.append(body)
        assert "startIndex" not in body and body["totalResults"] == 7
        pages.append([r["id"] for r in body["Resources"]])
        cursor = body.get("nextCursor")
    assert pages == [created[0:3], created[3:6], created[6:7]]
    assert "previousCursor" not in bodies[0]
    back = scim.get("/Users", {"cursor": bodies[2]["previousCursor"], "count": 3}).json()
    assert [r["id"] for r in back["Resources"]] == created[3:6]
    assert back["nextCursor"] and back["previousCursor"]


def test_cursor_paging_with_filter(scim, make_user):
    """A cursor walk honours the filter on every page."""
    for i in range(5):
        make_user(f"keep{i}")
        make_user(f"drop{i}")
    body = scim.get("/Users", {"cursor": "", "count": 3, "filter": 'userName sw "keep"'}).json()
    nxt = scim.get(
        "/Users", {"cursor": body["nextCursor"], "count": 3, "filter": 'userName sw "keep"'}
    ).json()
    assert [r["userName"] for r in body["Resources"] + nxt["Resources"]] == [
        f"keep{i}" for i in range(5)
    ]
    assert "nextCursor" not in nxt


def test_cursor_walk_keeps_its_starting_total_and_meets_new_users(scim, make_user):
    """totalResults of a cursor walk is counted when it starts and carried by its cursors
    (RFC 9865 §2 asks for an accurate total); a user created meanwhile is still met, and the
    walk ends on the missing nextCursor."""
    for i in range(4):
        make_user(f"user{i}")
    first = scim.get("/Users", {"cursor": "", "count": 3}).json()
    make_user("latecomer")

    rest = scim.get("/Users", {"cursor": first["nextCursor"], "count": 3}).json()

    assert first["totalResults"] == rest["totalResults"] == 4
    assert [r["userName"] for r in rest["Resources"]] == ["user3", "latecomer"]
    assert "nextCursor" not in rest
    assert scim.get("/Users", {"cursor": "", "count": 3}).json()["totalResults"] == 5


@pytest.mark.parametrize(
    "total", ["5", -1, 2**63, True, None], ids=["text", "negative", "huge", "bool", "null"]
)
def test_cursor_with_a_forged_total_is_invalid(scim, make_user, total):
    """A cursor whose total is no count this server could have issued is invalidCursor."""
    created = make_user("bjensen")
    payload = json.dumps(["n", "2026-01-01T00:00:00+00:00", created["id"], total])
    cursor = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    assert_scim_error(scim.get("/Users", {"cursor": cursor}), 400, "invalidCursor")


def test_search_endpoint_takes_parameters_in_the_body(scim, roster):
    """POST /Users/.search with a SearchRequest answers like GET with the same parameters
    (RFC 7644 §3.4.3), including attribute projection."""
    response = scim.post(
        "/Users/.search",
        {
            "schemas": [SEARCH_SCHEMA],
            "filter": 'userName sw "b" or userName sw "c"',
            "sortBy": "userName",
            "sortOrder": "descending",
            "startIndex": 1,
            "count": 10,
            "attributes": ["userName"],
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["schemas"] == [LIST_SCHEMA]
    assert [r["userName"] for r in body["Resources"]] == ["charlie", "bravo"]
    assert set(body["Resources"][0]) == {"schemas", "id", "userName"}


def test_root_search_covers_every_resource_type(scim, roster):
    """POST /.search at the service root searches all resource types (RFC 7644 §3.4.3)."""
    response = scim.post("/.search", {"schemas": [SEARCH_SCHEMA], "filter": 'userName eq "ECHO"'})
    assert names(response) == ["echo"]
    assert response.json()["totalResults"] == 1


@pytest.mark.parametrize(
    "body",
    [{"filter": "userName pr"}, {"schemas": ["urn:nope"]}, ["not", "an", "object"]],
    ids=["no-schemas", "wrong-schema", "not-an-object"],
)
def test_search_request_needs_its_schema(scim, body):
    """A SearchRequest must name its schema (RFC 7644 §3.4.3)."""
    assert_scim_error(scim.post("/Users/.search", body), 400, "invalidSyntax")


def test_search_count_must_be_a_json_integer(scim):
    """In a SearchRequest body, count is a JSON number, not a string."""
    response = scim.post("/Users/.search", {"schemas": [SEARCH_SCHEMA], "count": "10"})
    assert_scim_error(response, 400, "invalidValue", "count")


def test_root_search_reads_missing_attributes_as_unassigned(scim, make_user, make_group):
    """At the root, an attribute a type lacks has no value there (RFC 7644 §3.4.2.1): `or`
    across types finds both, `not` of a User-only test keeps the groups."""
    make_user("bob")
    make_group("Ops")
    body = {"schemas": [SEARCH_SCHEMA], "filter": 'userName eq "bob" or displayName eq "Ops"'}
    found = scim.post("/.search", body).json()
    assert sorted(r.get("userName") or r["displayName"] for r in found["Resources"]) == [
        "Ops",
        "bob",
    ]
    negated = scim.post(
        "/.search", {"schemas": [SEARCH_SCHEMA], "filter": 'not (userName eq "bob")'}
    )
    assert [r["displayName"] for r in negated.json()["Resources"]] == ["Ops"]
    unknown = scim.post("/.search", {"schemas": [SEARCH_SCHEMA], "filter": 'nope eq "x"'})
    assert_scim_error(unknown, 400, "invalidFilter", "Unknown attribute")


# --- Cursor paging in the order of sortBy (RFC 9865 with RFC 7644 §3.4.2.3) -----------------


def walk(
    scim, endpoint: str, count: int, cursor: str = "", **params
) -> tuple[list[dict], list[dict]]:
    """Return the resources of a cursor walk forward from `cursor`, and its pages' bodies."""
    seen, bodies = [], []
    while cursor is not None:
        response = scim.get(endpoint, {"cursor": cursor, "count": count, **params})
        assert response.status_code == 200, response.content
        body = response.json()
        bodies.append(body)
        seen.extend(body["Resources"])
        cursor = body.get("nextCursor")
        assert len(bodies) <= 100, "the walk does not end"
    return seen, bodies


def walk_back(scim, endpoint: str, bodies: list[dict], count: int, **params) -> list[dict]:
    """Return the resources met walking back by previousCursor from the last page."""
    seen = list(bodies[-1]["Resources"])
    cursor = bodies[-1].get("previousCursor")
    while cursor is not None:
        body = scim.get(endpoint, {"cursor": cursor, "count": count, **params}).json()
        seen[:0] = body["Resources"]
        cursor = body.get("previousCursor")
        assert len(seen) <= 1000, "the walk back does not end"
    return seen


@pytest.fixture
def crowd(make_user):
    """Users whose sort keys tie, differ only in case, and are missing."""
    titles = ["b", "B", "a", None, "c", "A", None, "b", "C", None, "a"]
    return [
        make_user(f"u{i:02}", **({"title": title} if title else {}), active=i % 3 == 0)
        for i, title in enumerate(titles)
    ]


@pytest.mark.parametrize("count", [1, 2, 4])
@pytest.mark.parametrize("order", ["ascending", "descending"])
@pytest.mark.parametrize("sort_by", ["title", "userName", "meta.created", "active", "id"])
def test_sorted_cursor_walk_is_complete_stable_and_in_order(scim, crowd, sort_by, order, count):
    """A cursor walk with sortBy meets every user once, in the order index paging gives for
    the same sortBy (case-insensitive keys, unassigned last ascending and first descending,
    RFC 7644 §3.4.2.3; ties by id), and walking back by previousCursor meets them again."""
    params = {"sortBy": sort_by, "sortOrder": order}
    seen, bodies = walk(scim, "/Users", count, **params)
    ids = [r["id"] for r in seen]
    assert len(ids) == len(set(ids)) == len(crowd)
    assert all(body["totalResults"] == len(crowd) for body in bodies)
    assert all("startIndex" not in body for body in bodies)

    def key(resource):
        value = {"title": resource.get("title"), "userName": resource["userName"]}.get(sort_by)
        if sort_by == "meta.created":
            value = resource["meta"]["created"]
        elif sort_by == "active":
            value = resource["active"]
        elif sort_by == "id":
            value = resource["id"]
        if isinstance(value, str) and sort_by != "id":
            value = value.lower()
        return value

    keys = [key(r) for r in seen]
    assigned = [k for k in keys if k is not None]
    nulls = len(keys) - len(assigned)
    if order == "ascending":
        assert keys == assigned + [None] * nulls
        assert assigned == sorted(assigned)
    else:
        assert keys == [None] * nulls + assigned
        assert assigned == sorted(assigned, reverse=True)
    for a, b in itertools.pairwise(seen):  # ties are broken by id, ascending
        if key(a) == key(b):
            assert a["id"] < b["id"]
    assert [r["id"] for r in walk_back(scim, "/Users", bodies, count, **params)] == ids


def test_sorted_cursor_walk_honours_the_filter_and_groups(scim, crowd, make_group):
    """A sorted walk over a filter, and over groups."""
    seen, _ = walk(scim, "/Users", 2, sortBy="title", filter='title pr and title ne "b"')
    assert [r["title"].lower() for r in seen] == ["a", "a", "a", "c", "c"]
    for name in ("beta", "Alpha", "gamma"):
        make_group(name)
    seen, _ = walk(scim, "/Groups", 1, sortBy="displayName", sortOrder="descending")
    assert [g["displayName"] for g in seen] == ["gamma", "beta", "Alpha"]


def test_sorted_cursor_walk_meets_changes_made_during_it(scim, crowd, make_user):
    """A user created during the walk ahead of its position is met; one behind it is not;
    none is met twice (keyset paging on (key, id))."""
    first = scim.get("/Users", {"cursor": "", "count": 4, "sortBy": "title"}).json()
    make_user("late-ahead", title="zz")
    make_user("late-behind", title="0")
    rest, _ = walk(scim, "/Users", 4, first["nextCursor"], sortBy="title")
    names = [r["userName"] for r in first["Resources"] + rest]
    assert "late-ahead" in names and "late-behind" not in names
    assert len(names) == len(set(names)) == len(crowd) + 1


@pytest.mark.parametrize(
    "cursor_of",
    [
        {"cursor": ""},  # a cursor of the default order
        {"cursor": "", "sortBy": "title"},  # of another sortBy
        {"cursor": "", "sortBy": "userName", "sortOrder": "descending"},  # of another order
    ],
)
def test_cursor_of_another_order_is_invalid(scim, crowd, cursor_of):
    """A cursor continues only the walk it came from (RFC 9865 invalidCursor)."""
    cursor = scim.get("/Users", {**cursor_of, "count": 2}).json()["nextCursor"]
    response = scim.get("/Users", {"cursor": cursor, "sortBy": "userName"})
    assert_scim_error(response, 400, "invalidCursor")


@pytest.mark.parametrize(
    ("sort_by", "key"),
    [("meta.created", "yesterday"), ("active", "true"), ("id", "x"), ("userName", 5)],
)
def test_sorted_cursor_with_a_key_of_the_wrong_type_is_invalid(scim, crowd, sort_by, key):
    """A forged cursor whose key is not a value of the sort key's type is invalidCursor,
    never a database error."""
    payload = json.dumps(["n", key, crowd[0]["id"], 3, [sort_by.lower(), False]])
    cursor = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    response = scim.get("/Users", {"cursor": cursor, "sortBy": sort_by})
    assert_scim_error(response, 400, "invalidCursor")


# --- POST /.search sorted across resource types (RFC 7644 §3.4.3, §3.4.2.3) ----------------


@pytest.fixture
def mixed(make_user, make_group):
    """Users and groups whose displayNames interleave; one user has none."""
    make_user("u-bravo", displayName="Bravo")
    make_group("alpha")
    make_user("u-delta", displayName="delta")
    make_group("Charlie", externalId="x-1")
    make_user("u-none")


def root_search(scim, **params) -> dict:
    response = scim.post(
        "/.search",
        {"schemas": [SEARCH_SCHEMA], "excludedAttributes": ["members", "groups"], **params},
    )
    assert response.status_code == 200, response.content
    return response.json()


def label(resource: dict) -> str:
    return resource.get("displayName") or resource["userName"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sortBy": "displayName"}, ["alpha", "Bravo", "Charlie", "delta", "u-none"]),
        (
            {"sortBy": "displayName", "sortOrder": "descending"},
            ["u-none", "delta", "Charlie", "Bravo", "alpha"],
        ),
        # userName is a User attribute: groups have none and sort last, in creation order.
        ({"sortBy": "userName"}, ["Bravo", "delta", "u-none", "alpha", "Charlie"]),
        (
            {"sortBy": "externalId", "sortOrder": "descending"},
            ["Bravo", "alpha", "delta", "u-none", "Charlie"],
        ),
        ({"sortBy": "meta.created"}, ["Bravo", "alpha", "delta", "Charlie", "u-none"]),
        (
            {"sortBy": "displayName", "filter": 'displayName pr or userName sw "u-n"'},
            ["alpha", "Bravo", "Charlie", "delta", "u-none"],
        ),
        (
            {"sortBy": "displayName", "filter": 'displayName co "a"'},
            ["alpha", "Bravo", "Charlie", "delta"],
        ),
    ],
)
def test_root_search_sorts_across_resource_types(scim, mixed, params, expected):
    """A root search with sortBy answers one order over users and groups; an attribute a type
    lacks is unassigned there (RFC 7644 §3.4.2.1), so sorts last ascending, first descending."""
    body = root_search(scim, **params)
    assert [label(r) for r in body["Resources"]] == expected
    assert body["totalResults"] == len(expected)


def test_root_search_pages_across_resource_types(scim, mixed):
    """startIndex/count page through the one sorted sequence: pages neither skip nor repeat,
    each resource is rendered as its own type."""
    pages = [
        root_search(scim, sortBy="displayName", startIndex=start, count=2) for start in (1, 3, 5, 7)
    ]
    assert [[label(r) for r in page["Resources"]] for page in pages] == [
        ["alpha", "Bravo"],
        ["Charlie", "delta"],
        ["u-none"],
        [],
    ]
    assert {page["totalResults"] for page in pages} == {5}
    assert [page["startIndex"] for page in pages] == [1, 3, 5, 7]
    schemas = [r["schemas"][0].rsplit(":", 1)[1] for r in pages[0]["Resources"]]
    assert schemas == ["Group", "User"]
    assert root_search(scim, sortBy="displayName", count=0) == {
        "schemas": [LIST_SCHEMA],
        "totalResults": 5,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


@pytest.mark.parametrize(
    ("params", "scim_type"),
    [
        ({"sortBy": "nope"}, "invalidValue"),
        ({"sortBy": "members.value"}, "invalidValue"),
        ({"cursor": ""}, "invalidValue"),
        ({"cursor": "bm9wZQ", "sortBy": "displayName"}, "invalidCursor"),
    ],
)
def test_root_search_bad_sorts(scim, mixed, params, scim_type):
    """An attribute no type has is unknown; sorting by members is refused; a cursor walk at
    the root needs sortBy, and a cursor this server did not issue is invalidCursor."""
    response = scim.post("/.search", {"schemas": [SEARCH_SCHEMA], **params})
    assert_scim_error(response, 400, scim_type)


def root_walk(scim, count: int, **params) -> tuple[list[dict], list[dict]]:
    """Return the resources of a root cursor walk forward, and its pages' bodies."""
    seen, bodies, cursor = [], [], ""
    while cursor is not None:
        body = root_search(scim, cursor=cursor, count=count, **params)
        bodies.append(body)
        seen.extend(body["Resources"])
        cursor = body.get("nextCursor")
        assert len(bodies) <= 100, "the walk does not end"
    return seen, bodies


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sortBy": "displayName"}, ["alpha", "Bravo", "Charlie", "delta", "u-none"]),
        (
            {"sortBy": "displayName", "sortOrder": "descending"},
            ["u-none", "delta", "Charlie", "Bravo", "alpha"],
        ),
        ({"sortBy": "meta.created"}, ["Bravo", "alpha", "delta", "Charlie", "u-none"]),
        (
            {"sortBy": "displayName", "filter": 'displayName co "a"'},
            ["alpha", "Bravo", "Charlie", "delta"],
        ),
    ],
)
def test_root_search_cursor_walk_across_resource_types(scim, mixed, params, expected, count):
    """RFC 9865 at the root with sortBy: the walk meets every user and group once, in the one
    order, and previousCursor walks it back."""
    seen, bodies = root_walk(scim, count, **params)
    assert [label(r) for r in seen] == expected
    assert {body["totalResults"] for body in bodies} == {len(expected)}
    assert all("startIndex" not in body for body in bodies)
    back, cursor = list(bodies[-1]["Resources"]), bodies[-1].get("previousCursor")
    while cursor is not None:
        body = root_search(scim, cursor=cursor, count=count, **params)
        back[:0] = body["Resources"]
        cursor = body.get("previousCursor")
        assert len(back) <= 100, "the walk back does not end"
    assert [label(r) for r in back] == expected


def test_root_cursor_and_type_cursor_do_not_mix(scim, mixed):
    """A cursor of a walk over one type does not continue a root walk, nor the reverse."""
    typed = scim.get("/Users", {"cursor": "", "count": 1, "sortBy": "displayName"}).json()
    response = scim.post(
        "/.search",
        {"schemas": [SEARCH_SCHEMA], "sortBy": "displayName", "cursor": typed["nextCursor"]},
    )
    assert_scim_error(response, 400, "invalidCursor")
    root = root_search(scim, cursor="", count=1, sortBy="displayName")
    response = scim.get("/Users", {"cursor": root["nextCursor"], "sortBy": "displayName"})
    assert_scim_error(response, 400, "invalidCursor")
