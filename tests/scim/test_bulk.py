"""The order Bulk operations run in (RFC 7644 §3.7, §3.7.1), without a database."""

from provisioning.scim.bulk import BULK_REQUEST_URN, execution_order, is_circle, parse_bulk_request

ENDPOINTS = ("/Users", "/Groups")


def request(*operations):
    body = {"schemas": [BULK_REQUEST_URN], "Operations": list(operations)}
    return parse_bulk_request(body, endpoints=ENDPOINTS, max_operations=100_000)


def post(bulk_id: str, *refers_to: str) -> dict:
    members = [{"value": f"bulkId:{other}"} for other in refers_to]
    return {"method": "POST", "path": "/Groups", "bulkId": bulk_id, "data": {"members": members}}


def order(parsed) -> list[list[str]]:
    return [[op.bulk_id or str(op.index) for op in step] for step in execution_order(parsed)]


def test_operations_run_in_the_order_sent():
    assert order(request(post("a"), post("b"), post("c"))) == [["a"], ["b"], ["c"]]


def test_a_referenced_post_runs_first():
    """§3.7: the User must exist before the Group that holds it."""
    assert order(request(post("g", "u"), post("x"), post("u"))) == [["u"], ["g"], ["x"]]


def test_circles_are_one_step_in_the_order_sent():
    parsed = request(post("a", "b"), post("b", "c"), post("c", "a"), post("d", "a"), post("e"))
    steps = execution_order(parsed)
    assert order(parsed) == [["a", "b", "c"], ["d"], ["e"]]
    assert [is_circle(step, parsed) for step in steps] == [True, False, False]


def test_a_post_that_refers_to_itself_is_a_circle():
    parsed = request(post("a", "a"))
    assert [is_circle(step, parsed) for step in execution_order(parsed)] == [True]


def test_a_long_chain_of_forward_references():
    """Each operation refers to the next: the walk is iterative, whatever the length."""
    n = 5000
    parsed = request(*(post(str(i), str(i + 1)) for i in range(n - 1)), post(str(n - 1)))
    assert order(parsed) == [[str(i)] for i in reversed(range(n))]


def test_references_to_nothing_do_not_reorder():
    parsed = request(post("a", "nowhere"), post("b"))
    assert order(parsed) == [["a"], ["b"]]


def test_references_are_replaced_at_any_depth_without_recursion():
    """A reference deep inside a document nested as far as JSON allows is replaced, and the
    operation's data is copied, not changed."""
    from provisioning.scim.bulk import resolve

    data = {"members": [{"value": "bulkId:a"}, "bulkId:b", 7, None, "bulkId:"]}
    deep = data
    for _ in range(5000):
        deep = {"x": [deep]}
    parsed = request({"method": "POST", "path": "/Groups", "bulkId": "g", "data": deep})
    resolved = resolve(parsed.operations[0], deep, {"a": "id-a", "b": "id-b", "": "id-"})
    for _ in range(5000):
        resolved = resolved["x"][0]
    assert resolved == {"members": [{"value": "id-a"}, "id-b", 7, None, "id-"]}
    assert data["members"][0] == {"value": "bulkId:a"}
