"""The storage modules implement the `Store` interface (`provisioning/storage/store.py`) that
the views, the writes of `provisioning.resources`, the root search, Bulk and the admin call:
each has every member of the Protocol, and each function can be called as the Protocol
declares it (positional-only parameters by position, the others by name, defaults where the
Protocol has one)."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable

import pytest

from provisioning.storage import groups, users
from provisioning.storage.store import MemberStore, Store

P = inspect.Parameter
POSITIONAL = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)


def members(protocol: type) -> set[str]:
    """Return the names a Protocol declares: its annotated attributes and its methods, its
    bases' included."""
    names: set[str] = set()
    for cls in protocol.__mro__:
        if cls is typing.Protocol or not getattr(cls, "_is_protocol", False):
            continue
        names |= set(vars(cls).get("__annotations__", {}))
        names |= {name for name, value in vars(cls).items() if inspect.isfunction(value)}
    return {name for name in names if not name.startswith("_")}


def callable_as(declared: Callable, function: Callable) -> list[str]:
    """Return why `function` cannot be called as the Protocol method `declared` (its `self`
    dropped) allows; none when it can."""
    wanted = list(inspect.signature(declared).parameters.values())[1:]
    params = list(inspect.signature(function).parameters.values())
    positional = [p for p in params if p.kind in POSITIONAL]
    by_name = {p.name: p for p in params if p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)}
    problems, used, position = [], set(), 0
    for want in wanted:
        if want.kind is P.KEYWORD_ONLY:
            got = by_name.get(want.name)
        else:
            got = positional[position] if position < len(positional) else None
            position += 1
            if want.kind is P.POSITIONAL_OR_KEYWORD and got is not None and got.name != want.name:
                got = None
        if got is None:
            problems.append(f"no parameter for '{want.name}'")
            continue
        used.add(got.name)
        if want.default is not P.empty and got.default != want.default:
            problems.append(f"'{got.name}' does not default to {want.default!r}")
    problems.extend(
        f"'{p.name}' is required but the Protocol does not pass it"
        for p in params
        if p.name not in used
        and p.default is P.empty
        and p.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD)
    )
    return problems


def conformance(module, protocol: type) -> dict[str, list[str]]:
    """Return, by member, why `module` does not implement `protocol`; empty when it does."""
    hints = typing.get_type_hints(protocol)
    found: dict[str, list[str]] = {}
    for name in sorted(members(protocol)):
        if not hasattr(module, name):
            found[name] = ["missing"]
        elif name in hints:
            hint, value = hints[name], getattr(module, name)
            if typing.get_origin(hint) is type:
                ok = isinstance(value, type) and issubclass(value, typing.get_args(hint)[0])
            else:
                ok = isinstance(value, hint)
            if not ok:
                found[name] = [f"{value!r} is not a {hint}"]
        elif problems := callable_as(getattr(protocol, name), getattr(module, name)):
            found[name] = problems
    return found


@pytest.mark.parametrize(
    ("module", "protocol"),
    [(users, Store), (groups, Store), (groups, MemberStore)],
    ids=["users", "groups", "groups-members"],
)
def test_the_storage_modules_implement_their_protocol(module, protocol):
    assert conformance(module, protocol) == {}


def test_the_protocol_covers_what_callers_call():
    """Each operation of the common interface is declared (a caller typed with `Store` could
    not call an undeclared one); the Groups-only ones are in `MemberStore` alone."""
    assert members(Store) == {
        "MODEL",
        "PAGE_RELATED",
        "get",
        "read",
        "related",
        "source",
        "search",
        "create",
        "replace",
        "patch",
        "delete",
    }
    assert members(MemberStore) - members(Store) == {"MEMBERS", "read_with_members"}


def module_like(source, **changes) -> types.ModuleType:
    """Return a module with the members of `source`, some of them changed or (None) removed."""
    module = types.ModuleType("fake_store")
    for name in members(Store):
        setattr(module, name, getattr(source, name))
    for name, value in changes.items():
        if value is None:
            delattr(module, name)
        else:
            setattr(module, name, value)
    return module


def test_a_missing_member_is_found():
    assert conformance(module_like(users, delete=None), Store) == {"delete": ["missing"]}


def test_a_model_that_is_no_model_is_found():
    assert list(conformance(module_like(users, MODEL=dict), Store)) == ["MODEL"]


def test_page_related_is_a_related_attribute_or_none():
    """What a page's statement reads along is declared (`Related`), or None: read apart."""
    assert groups.PAGE_RELATED is None
    assert list(conformance(module_like(users, PAGE_RELATED="groups"), Store)) == ["PAGE_RELATED"]


@pytest.mark.parametrize(
    ("search", "problem"),
    [
        (lambda tenant, request: None, "no parameter for 'needs'"),
        (lambda tenant, request, needs: None, "'needs' does not default to None"),
        (lambda tenant, request, needs=None, *, page: None, "'page' is required"),
    ],
    ids=["too-few", "no-default", "one-more-required"],
)
def test_an_incompatible_signature_is_found(search, problem):
    found = conformance(module_like(users, search=search), Store)
    assert list(found) == ["search"]
    assert found["search"][0].startswith(problem)


def test_a_keyword_is_matched_by_name():
    """`create` takes `needs` and `pk` by name: a store naming them otherwise is refused."""

    def create(tenant, document, needs=None, primary_key=None): ...

    found = conformance(module_like(users, create=create), Store)
    assert found == {
        "create": [
            "no parameter for 'pk'",
        ]
    }
