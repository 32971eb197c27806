"""Tests for the SCIM filter and attribute-path parser (RFC 7644 §3.4.2.2, §3.5.2, §3.10)."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest

from provisioning.scim.dialect import Leniency
from provisioning.scim.errors import InvalidFilter, InvalidPath, SCIMError
from provisioning.scim.filter import (
    COMPARISON_OPERATORS,
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    parse_attr_path,
    parse_filter,
    parse_patch_path,
    split_urn,
)

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MEMBER_ID = "2819c223-7f76-453a-919d-413861904646"


def path(text: str) -> AttrPath:
    """Build an AttrPath from ``[schema:]attr[.sub]`` text, independently of the parser."""
    schema, _, rest = text.rpartition(":")
    attr, _, sub = rest.partition(".")
    return AttrPath(attr=attr, sub_attr=sub or None, schema=schema or None)


def cmp(attr: str, op: str, value: object) -> Compare:
    """Build a comparison on the path text ``attr``."""
    return Compare(path(attr), op, value)


def pr(attr: str) -> Present:
    """Build a presence test on the path text ``attr``."""
    return Present(path(attr))


def vp(attr: str, inner: Filter) -> ValuePath:
    """Build a value filter on the path text ``attr``."""
    return ValuePath(path(attr), inner)


def ids(cases: list[tuple]) -> list[str]:
    """Return the readable test ids, the first item of each case."""
    return [case[0] for case in cases]


# --- RFC 7644 §3.4.2.2 Figure 2: every example filter --------------------------------------------

RFC_EXAMPLES = [
    ("eq", 'userName eq "bjensen"', cmp("userName", "eq", "bjensen")),
    ("co-apostrophe", 'name.familyName co "O\'Malley"', cmp("name.familyName", "co", "O'Malley")),
    ("sw", 'userName sw "J"', cmp("userName", "sw", "J")),
    ("sw-urn", f'{CORE_USER}:userName sw "J"', cmp(f"{CORE_USER}:userName", "sw", "J")),
    ("pr", "title pr", pr("title")),
    *(
        (
            op,
            f'meta.lastModified {op} "2011-05-13T04:42:34Z"',
            cmp("meta.lastModified", op, "2011-05-13T04:42:34Z"),
        )
        for op in ("gt", "ge", "lt", "le")
    ),
    (
        "pr-and-eq",
        'title pr and userType eq "Employee"',
        And(pr("title"), cmp("userType", "eq", "Employee")),
    ),
    (
        "pr-or-eq",
        'title pr or userType eq "Intern"',
        Or(pr("title"), cmp("userType", "eq", "Intern")),
    ),
    (
        "schemas-eq",
        f'schemas eq "{ENTERPRISE_USER}"',
        cmp("schemas", "eq", ENTERPRISE_USER),
    ),
    (
        "and-group-or",
        'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
        And(
            cmp("userType", "eq", "Employee"),
            Or(cmp("emails", "co", "example.com"), cmp("emails.value", "co", "example.org")),
        ),
    ),
    (
        "and-not-group",
        'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
        And(
            cmp("userType", "ne", "Employee"),
            Not(Or(cmp("emails", "co", "example.com"), cmp("emails.value", "co", "example.org"))),
        ),
    ),
    (
        "and-group-single",
        'userType eq "Employee" and (emails.type eq "work")',
        And(cmp("userType", "eq", "Employee"), cmp("emails.type", "eq", "work")),
    ),
    (
        "and-value-path",
        'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
        And(
            cmp("userType", "eq", "Employee"),
            vp("emails", And(cmp("type", "eq", "work"), cmp("value", "co", "@example.com"))),
        ),
    ),
    (
        "value-path-or-value-path",
        'emails[type eq "work" and value co "@example.com"] or '
        'ims[type eq "xmpp" and value co "@foo.com"]',
        Or(
            vp("emails", And(cmp("type", "eq", "work"), cmp("value", "co", "@example.com"))),
            vp("ims", And(cmp("type", "eq", "xmpp"), cmp("value", "co", "@foo.com"))),
        ),
    ),
]


@pytest.mark.parametrize(("case", "text", "expected"), RFC_EXAMPLES, ids=ids(RFC_EXAMPLES))
def test_rfc_examples(case: str, text: str, expected: Filter) -> None:
    """Every example filter of RFC 7644 §3.4.2.2 (Figure 2) parses to the expected tree."""
    assert parse_filter(text) == expected


# --- Precedence and grouping (RFC 7644 §3.4.2.2, order of operations) ----------------------------

PRECEDENCE = [
    ("or-then-and", "a eq 1 or b eq 2 and c eq 3",
     Or(cmp("a", "eq", 1), And(cmp("b", "eq", 2), cmp("c", "eq", 3)))),
    ("and-then-or", "a eq 1 and b eq 2 or c eq 3",
     Or(And(cmp("a", "eq", 1), cmp("b", "eq", 2)), cmp("c", "eq", 3))),
    ("or-left-assoc", "a pr or b pr or c pr", Or(Or(pr("a"), pr("b")), pr("c"))),
    ("and-left-assoc", "a pr and b pr and c pr", And(And(pr("a"), pr("b")), pr("c"))),
    ("not-then-and", "not (a pr) and b pr", And(Not(pr("a")), pr("b"))),
    ("and-not-or", "a pr and not (b pr) or c pr", Or(And(pr("a"), Not(pr("b"))), pr("c"))),
    ("group-overrides", "(a pr or b pr) and c pr", And(Or(pr("a"), pr("b")), pr("c"))),
    ("not-group", "not (a pr or b pr)", Not(Or(pr("a"), pr("b")))),
    ("not-not", "not (not (a pr))", Not(Not(pr("a")))),
    ("redundant-parens", "((((a pr))))", pr("a")),
    ("inside-brackets", 'emails[type eq "work" or type eq "home" and primary eq true]',
     vp("emails", Or(cmp("type", "eq", "work"),
                     And(cmp("type", "eq", "home"), cmp("primary", "eq", True))))),
    ("not-inside-brackets", 'emails[not (type eq "work")]',
     vp("emails", Not(cmp("type", "eq", "work")))),
    ("and-value-path-or-value-path",
     'userType eq "Employee" and emails[type eq "work" and value co "@example.com"] or '
     'ims[type eq "xmpp" and value co "@foo.com"]',
     Or(And(cmp("userType", "eq", "Employee"),
            vp("emails", And(cmp("type", "eq", "work"), cmp("value", "co", "@example.com")))),
        vp("ims", And(cmp("type", "eq", "xmpp"), cmp("value", "co", "@foo.com"))))),
]  # fmt: skip


@pytest.mark.parametrize(("case", "text", "expected"), PRECEDENCE, ids=ids(PRECEDENCE))
def test_precedence(case: str, text: str, expected: Filter) -> None:
    """ "not" binds tighter than "and", which binds tighter than "or"; "and" and "or" are
    left-associative; parentheses regroup (RFC 7644 §3.4.2.2)."""
    assert parse_filter(text) == expected


# --- Case, whitespace, literals ------------------------------------------------------------------

CASE_INSENSITIVE = [
    ("rfc-Eq", 'userName Eq "john"', cmp("userName", "eq", "john")),
    ("rfc-attr-case-kept", 'Username eq "john"', cmp("Username", "eq", "john")),
    ("EQ", 'userName EQ "x"', cmp("userName", "eq", "x")),
    ("PR", "title PR", pr("title")),
    ("AND", "a pr AND b pr", And(pr("a"), pr("b"))),
    ("Or", "a pr Or b pr", Or(pr("a"), pr("b"))),
    ("NOT", "NOT (a pr)", Not(pr("a"))),
    ("TRUE", "active eq TRUE", cmp("active", "eq", True)),
    ("False", "active eq False", cmp("active", "eq", False)),
    ("NULL", "manager eq NULL", cmp("manager", "eq", None)),
    ("URN-prefix", 'URN:ietf:params:scim:schemas:core:2.0:User:userName eq "x"',
     cmp("URN:ietf:params:scim:schemas:core:2.0:User:userName", "eq", "x")),
]  # fmt: skip


@pytest.mark.parametrize(("case", "text", "expected"), CASE_INSENSITIVE, ids=ids(CASE_INSENSITIVE))
def test_keywords_are_case_insensitive(case: str, text: str, expected: Filter) -> None:
    """Operators, and/or/not and true/false/null match in any case; attribute names and schema
    URNs keep the case they were written in (RFC 7644 §3.4.2.2)."""
    result = parse_filter(text)
    assert result == expected
    assert repr(result) == repr(expected)  # True == 1 for ==; repr tells bool from int


WHITESPACE = [
    ("several-spaces", 'userName   eq    "x"', cmp("userName", "eq", "x")),
    ("tabs", 'userName\teq\t"x"', cmp("userName", "eq", "x")),
    ("leading-trailing", '  userName eq "x"\t ', cmp("userName", "eq", "x")),
    ("no-space-before-string", 'userName eq"x"', cmp("userName", "eq", "x")),
    ("not-without-space", "not(a pr)", Not(pr("a"))),
    ("parens-touch-and", "(a pr)and(b pr)", And(pr("a"), pr("b"))),
    ("spaces-inside-brackets", 'emails[ type eq "work" ]', vp("emails", cmp("type", "eq", "work"))),
]


@pytest.mark.parametrize(("case", "text", "expected"), WHITESPACE, ids=ids(WHITESPACE))
def test_whitespace_is_lenient(case: str, text: str, expected: Filter) -> None:
    """One or more spaces or tabs separate tokens; tokens that cannot run together need none
    (``eq"x"``, ``not(`` as RFC 7644 §3.4.2.2 Figure 1 writes it, cf. erratum 7319)."""
    assert parse_filter(text) == expected


def test_whitespace_separates_words() -> None:
    """A word runs to its last name character (maximal munch), so ``eq5`` or ``prand`` are
    single words, not an operator plus something (RFC 7644 §3.4.2.2 ``SP``)."""
    with pytest.raises(InvalidFilter, match="expected a comparison operator after 'age'"):
        parse_filter("age eq5")
    with pytest.raises(InvalidFilter, match="found 'prand'"):
        parse_filter("title prand b pr")


@pytest.mark.parametrize(
    "text",
    ['emails [type eq "work"]', 'emails[type eq "work"] .value eq "x"'],
    ids=["space-before-bracket", "space-before-sub-attribute"],
)
def test_value_path_must_be_contiguous(text: str) -> None:
    """``[`` and a trailing ``.subAttr`` belong to the attribute path and must touch it, as in
    RFC 7644 §3.4.2.2 ``valuePath = attrPath "[" valFilter "]"``."""
    with pytest.raises(InvalidFilter, match="at position"):
        parse_filter(text)


# --- Comparison values (RFC 7644 §3.4.2.2 compValue, RFC 7159) -----------------------------------

STRINGS = [
    ("quote", r'"a\"b"', 'a"b'),
    ("backslash", r'"back\\slash"', "back\\slash"),
    ("solidus", r'"a\/b"', "a/b"),
    ("controls", r'"\b\f\n\r\t"', "\b\f\n\r\t"),
    ("unicode", r'"caf\u00e9"', "café"),
    ("unicode-upper-hex", r'"\u00C9"', "É"),
    ("surrogate-pair", r'"\ud83d\ude00"', "\U0001f600"),
    ("raw-non-ascii", '"Zoë 日本"', "Zoë 日本"),
    ("empty", '""', ""),
    ("keywords-inside", '"a and b or not (c)"', "a and b or not (c)"),
    ("brackets-inside", '"]["', "]["),
]


@pytest.mark.parametrize(("case", "literal", "expected"), STRINGS, ids=ids(STRINGS))
def test_string_escapes(case: str, literal: str, expected: str) -> None:
    """String values are JSON strings with every JSON escape decoded (RFC 7159 §7)."""
    assert parse_filter(f"displayName eq {literal}") == cmp("displayName", "eq", expected)


NUMBERS = [
    ("zero", "0", 0),
    ("one-digit", "7", 7),
    ("multi-digit", "12345", 12345),
    ("negative", "-42", -42),
    ("negative-zero", "-0", 0),
    ("fraction", "1.5", Decimal("1.5")),
    ("negative-fraction", "-0.25", Decimal("-0.25")),
    ("exponent", "1e3", Decimal("1e3")),
    ("exponent-upper-signed", "2.5E-3", Decimal("0.0025")),
    ("exponent-plus", "1E+2", Decimal("100")),
    ("exact-decimal", "0.1", Decimal("0.1")),
    ("big-int", "123456789012345678901234567890", 123456789012345678901234567890),
]


@pytest.mark.parametrize(("case", "literal", "expected"), NUMBERS, ids=ids(NUMBERS))
def test_numbers(case: str, literal: str, expected: int | Decimal) -> None:
    """JSON numbers are one token; without fraction or exponent they are ``int``, otherwise an
    exact ``Decimal`` (RFC 7644 §3.4.2.2 compValue, RFC 7159 §6)."""
    result = parse_filter(f"age gt {literal}")
    assert isinstance(result, Compare)
    assert result.value == expected
    assert type(result.value) is type(expected)


def test_literals() -> None:
    """``true``, ``false`` and ``null`` are booleans and None, never strings or ints."""
    values = [parse_filter(f"x eq {word}").value for word in ("true", "false", "null")]
    assert values == [True, False, None]
    assert [type(value) for value in values] == [bool, bool, type(None)]


# --- Attribute names and paths (RFC 7644 §3.10) --------------------------------------------------

KEYWORD_NAMES = ["orders", "notes", "andrew", "prefix", "eqValue", "nothing", "trueName",
                 "falsePositive", "nullable", "coWorker", "lead", "swift", "present"]  # fmt: skip


@pytest.mark.parametrize("name", KEYWORD_NAMES)
def test_names_starting_with_a_keyword(name: str) -> None:
    """A word is an attribute name or a keyword by its place in the grammar, never by prefix
    (RFC 7644 §3.4.2.2 ATTRNAME)."""
    assert parse_filter(f'{name} eq "x"') == cmp(name, "eq", "x")
    assert parse_filter(f"a pr and {name} pr") == And(pr("a"), pr(name))
    assert parse_filter(f'emails[{name} eq "x"]') == vp("emails", cmp(name, "eq", "x"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pr pr", pr("pr")),
        ('and eq "x"', cmp("and", "eq", "x")),
        ('not eq "x"', cmp("not", "eq", "x")),
        ("true eq true", cmp("true", "eq", True)),
        ('or pr or eq eq "eq"', Or(pr("or"), cmp("eq", "eq", "eq"))),
    ],
    ids=["pr", "and", "not", "true", "or-eq"],
)
def test_keywords_as_attribute_names(text: str, expected: Filter) -> None:
    """Where the grammar expects an attribute path, even a keyword is an attribute name."""
    assert parse_filter(text) == expected


URN_NAMES = [
    ("enterprise-employeeNumber", f'{ENTERPRISE_USER}:employeeNumber eq "701984"',
     Compare(AttrPath("employeeNumber", schema=ENTERPRISE_USER), "eq", "701984")),
    ("core-sub-attribute", f'{CORE_USER}:name.familyName eq "Jensen"',
     Compare(AttrPath("name", "familyName", CORE_USER), "eq", "Jensen")),
    ("enterprise-manager-value", f'{ENTERPRISE_USER}:manager.value eq "26118915"',
     Compare(AttrPath("manager", "value", ENTERPRISE_USER), "eq", "26118915")),
    ("urn-pr-and", f"{ENTERPRISE_USER}:employeeNumber pr and userName pr",
     And(Present(AttrPath("employeeNumber", schema=ENTERPRISE_USER)), pr("userName"))),
    ("urn-value-path", f'{CORE_USER}:emails[type eq "work"]',
     ValuePath(AttrPath("emails", schema=CORE_USER), cmp("type", "eq", "work"))),
    ("dollar-ref", 'members[$ref eq "https://example.com/v2/Users/1"]',
     vp("members", cmp("$ref", "eq", "https://example.com/v2/Users/1"))),
]  # fmt: skip


@pytest.mark.parametrize(("case", "text", "expected"), URN_NAMES, ids=ids(URN_NAMES))
def test_schema_qualified_names(case: str, text: str, expected: Filter) -> None:
    """A schema URN prefix ends at the last colon; the segment after it is the attribute and may
    carry ``.subAttr``; the URN is kept as written (RFC 7644 §3.10)."""
    assert parse_filter(text) == expected


def test_attr_path_str() -> None:
    """``str(AttrPath)`` gives the canonical path text back (RFC 7644 §3.10)."""
    assert str(AttrPath("userName")) == "userName"
    assert str(AttrPath("name", "familyName")) == "name.familyName"
    assert str(AttrPath("manager", "value", ENTERPRISE_USER)) == f"{ENTERPRISE_USER}:manager.value"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{CORE_USER}:name.familyName", (CORE_USER, "name.familyName")),
        (ENTERPRISE_USER, ("urn:ietf:params:scim:schemas:extension:enterprise:2.0", "User")),
        ("URN:a:b:attr", ("URN:a:b", "attr")),
        ("name.familyName", (None, "name.familyName")),
        ("urn:x", (None, "urn:x")),
        ("foo:bar", (None, "foo:bar")),
    ],
    ids=["qualified", "whole-extension", "upper-case", "plain", "urn-only", "not-a-urn"],
)
def test_split_urn(text: str, expected: tuple[str | None, str]) -> None:
    """``split_urn`` cuts a ``urn:`` text (any case) at its last colon and leaves others whole."""
    assert split_urn(text) == expected


# --- Entra ID's valuePath.subAttr comparison -----------------------------------------------------

ENTRA = [
    ("eq", 'emails[type eq "work"].value eq "x@example.com"',
     vp("emails", And(cmp("type", "eq", "work"), cmp("value", "eq", "x@example.com")))),
    ("pr", 'emails[type eq "work"].value pr',
     vp("emails", And(cmp("type", "eq", "work"), pr("value")))),
    ("and", 'emails[type eq "work"].value eq "x" and active eq true',
     And(vp("emails", And(cmp("type", "eq", "work"), cmp("value", "eq", "x"))),
         cmp("active", "eq", True))),
    ("inner-or-kept-grouped", 'emails[type eq "a" or type eq "b"].value eq "x"',
     vp("emails", And(Or(cmp("type", "eq", "a"), cmp("type", "eq", "b")),
                      cmp("value", "eq", "x")))),
]  # fmt: skip


@pytest.mark.parametrize(("case", "text", "expected"), ENTRA, ids=ids(ENTRA))
def test_entra_value_path_sub_attribute(case: str, text: str, expected: Filter) -> None:
    """Entra's ``emails[type eq "work"].value eq "x"`` (not in RFC 7644 §3.4.2.2 Figure 1) is,
    with the VALUE_FILTER_SUB_ATTRIBUTE leniency, folded into the value filter: one email must
    be of type work and have that value."""
    read_with = frozenset({Leniency.VALUE_FILTER_SUB_ATTRIBUTE})
    assert parse_filter(text, leniencies=read_with) == expected


@pytest.mark.parametrize(("case", "text", "expected"), ENTRA, ids=ids(ENTRA))
def test_value_path_sub_attribute_is_invalid_by_the_rfc(case, text, expected) -> None:
    """Without the leniency the same text is an invalidFilter: RFC 7644 §3.4.2.2's valuePath
    ends at ``]``, and the error points at the ``.value`` after it."""
    with pytest.raises(InvalidFilter) as raised:
        parse_filter(text)
    position = text.index("].") + 1
    assert raised.value.detail.endswith(f"at position {position}")
    assert "a value filter ends at ']'" in raised.value.detail


# --- Limits --------------------------------------------------------------------------------------


def nested(depth: int, core: str = "a pr") -> str:
    """Wrap ``core`` in ``depth`` pairs of parentheses."""
    return "(" * depth + core + ")" * depth


def test_depth_limit() -> None:
    """Parentheses, ``not (`` and ``[`` each add one level; 32 levels pass, 33 fail."""
    assert parse_filter(nested(32)) == pr("a")
    assert parse_filter("not (" * 32 + "a pr" + ")" * 32) is not None
    assert parse_filter(f"emails[{nested(31, 'type pr')}]") == vp("emails", pr("type"))
    for text in (nested(33), "not (" * 33 + "a pr" + ")" * 33, f"emails[{nested(32)}]"):
        with pytest.raises(InvalidFilter, match="exceeds the maximum depth of 32 at position"):
            parse_filter(text)


def test_node_limit() -> None:
    """At most 128 comparisons or presence tests; an Entra fold counts its extra comparison."""
    assert parse_filter(" or ".join(["a pr"] * 128)) is not None
    with pytest.raises(InvalidFilter, match="more than the maximum of 128 comparisons"):
        parse_filter(" or ".join(["a pr"] * 129))


def test_length_limit() -> None:
    """Filters longer than 4096 characters are refused before parsing."""
    padded = 'userName eq "' + "x" * (4096 - 14) + '"'
    assert len(padded) == 4096
    assert parse_filter(padded) is not None
    with pytest.raises(InvalidFilter, match="longer than the maximum of 4096 characters"):
        parse_filter(padded + " ")


def test_limits_are_configurable() -> None:
    """``max_length``, ``max_depth`` and ``max_nodes`` override the defaults."""
    with pytest.raises(InvalidFilter, match="maximum of 10 characters"):
        parse_filter('userName eq "x"', max_length=10)
    with pytest.raises(InvalidFilter, match="maximum depth of 1"):
        parse_filter("((a pr))", max_depth=1)
    with pytest.raises(InvalidFilter, match="maximum of 1 comparisons"):
        parse_filter("a pr and b pr", max_nodes=1)


def test_deep_input_never_recurses() -> None:
    """Parsing is iterative: 20,000 levels, allowed by raised limits, still parse, and a flood
    of brackets or parentheses is an InvalidFilter, never a RecursionError."""
    big = {"max_length": 10**6, "max_depth": 10**6}
    assert parse_filter(nested(20_000), **big) == pr("a")
    for text in ("(" * 50_000, "not (" * 20_000, "a[" * 20_000, ")" * 20_000):
        with pytest.raises(InvalidFilter):
            parse_filter(text, **big)


# --- Malformed filters ---------------------------------------------------------------------------

MALFORMED = [
    ("empty", "", "filter is empty at position 0"),
    ("blank", " \t ", "filter is empty"),
    ("no-operator", "userName", "expected a comparison operator after 'userName' at position 8"),
    ("unknown-operator", 'userName xx "a"',
     "expected a comparison operator after 'userName' at position 9, found 'xx'"),
    ("regex-operator", 'userName regex "a"', "found 'regex'"),
    ("no-value", "userName eq", "expected a comparison value"),
    ("bare-word-value", "userName eq bjensen", "found 'bjensen' at position 12"),
    ("single-quotes", "userName eq 'bjensen'", "unexpected character ''' at position 12"),
    ("unterminated-string", 'userName eq "abc', "unterminated string at position 12"),
    ("trailing-backslash", 'userName eq "abc\\', "invalid escape"),
    ("bad-escape", r'userName eq "a\x"', "invalid escape: backslash followed by 'x'"),
    ("short-unicode-escape", r'userName eq "\u12"', "expected four hex digits at position 13"),
    ("bad-unicode-escape", r'userName eq "\u12zz"', "expected four hex digits"),
    ("lone-surrogate", r'userName eq "\ud800"', "unpaired UTF-16 surrogate"),
    ("raw-newline-in-string", 'userName eq "a\nb"', "unescaped control character U+000A"),
    ("newline-between-tokens", 'a pr or\nb pr', "unexpected character U+000A at position 7"),
    ("ampersands", "a pr && b pr", "unexpected character '&'"),
    ("unclosed-paren", '(userName eq "a"', "missing ')' to close the '(' at position 0"),
    ("unclosed-not", "not (a pr", "missing ')' to close the 'not (' at position 0"),
    ("extra-paren", 'userName eq "a")', "unmatched ')' at position 15"),
    ("unclosed-bracket", 'emails[type eq "work"', "missing ']' to close the '[' at position 6"),
    ("paren-closed-by-bracket", 'emails[(type eq "work"]', "missing ')'"),
    ("extra-bracket", 'userName eq "a"]', "unmatched ']' at position 15"),
    ("empty-brackets", "emails[]", "expected an attribute path after '[', found ']'"),
    ("empty-parens", "()", "expected an attribute path after '(', found ')'"),
    ("not-without-parens", 'not userName eq "a"', "'not' must be followed by '(' at position 4"),
    ("trailing-garbage", 'userName eq "a" junk', "expected 'and', 'or', ')' or end of filter"),
    ("trailing-and", 'userName eq "a" and', "expected an attribute path after 'and'"),
    ("leading-or", "or", "expected a comparison operator after 'or'"),
    ("value-after-pr", 'title pr "x"', "found '\"x\"' at position 9"),
    ("leading-zero", "age gt 012", "invalid number '012' at position 7"),
    ("dot-only-fraction", "age gt 1.", "invalid number '1.'"),
    ("leading-dot", "age gt .5", "found '.5'"),
    ("empty-exponent", "age gt 1e", "invalid number '1e'"),
    ("number-runs-into-word", "age gt 5and b pr", "invalid number '5and'"),
    ("minus-only", "age gt -", "invalid number '-'"),
    ("three-levels", "a.b.c eq 1", "invalid attribute path 'a.b.c' at position 0"),
    ("name-starts-with-digit", "1abc eq 1", "expected an attribute path, found '1abc'"),
    ("non-urn-prefix", "foo:bar eq 1", "a schema prefix must be a URN"),
    ("empty-urn-segment", "urn::x eq 1", "invalid schema URN 'urn:'"),
    ("urn-without-attribute", f"{CORE_USER}: eq 1", "invalid attribute path"),
    ("nested-value-path", 'emails[type eq "work" and phones[type eq "x"]]',
     "cannot be nested in another at position 32"),
    ("qualified-name-in-brackets", "emails[value.x eq 1]", "must be a plain sub-attribute name"),
    ("urn-in-brackets", f"emails[{CORE_USER}:type eq 1]", "must be a plain sub-attribute name"),
    ("brackets-after-sub-attribute", "name.familyName[x pr]",
     "cannot follow the sub-attribute 'name.familyName' at position 15"),
    ("value-path-sub-without-operator", 'emails[type eq "work"].value',
     "expected a comparison operator after '.value'"),
    ("value-path-bad-sub-attribute", 'emails[type eq "work"].1x eq 1', "invalid sub-attribute"),
    ("value-path-then-pr", 'emails[type eq "work"] pr', "found 'pr'"),
    ("non-ascii-name", 'prénom eq "x"', "unexpected character 'é' at position 2"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "text", "message"), MALFORMED, ids=ids(MALFORMED))
def test_malformed_filters(case: str, text: str, message: str) -> None:
    """Malformed filters raise InvalidFilter (RFC 7644 §3.12 Table 9) naming the problem and
    its 0-based character position, read even with every leniency (Entra's ``].value``)."""
    with pytest.raises(InvalidFilter) as raised:
        parse_filter(text, leniencies=frozenset(Leniency))
    assert message in raised.value.detail
    assert " at position " in raised.value.detail
    assert raised.value.to_scim()["scimType"] == "invalidFilter"


def test_long_input_is_not_echoed_in_full() -> None:
    """Error details quote at most a short excerpt of the offending text."""
    with pytest.raises(InvalidFilter) as raised:
        parse_filter("userName eq " + "x" * 2000)
    assert len(raised.value.detail) < 200


def test_random_input_only_raises_invalid_filter() -> None:
    """Any string either parses or raises a SCIMError; no other exception escapes."""
    pieces = ['userName', ' ', 'eq', 'pr', 'and', 'or', 'not', '(', ')', '[', ']', '"x"', '"',
              '\\', '\\u', 'd83d', '\\ud800', '12', '-', '.', 'e5', '+', '0', 'true', 'null',
              'emails', '.value', 'urn:', 'a:b:c:', ':', '$ref', '\t', '\n', '\x00', 'é',
              '\ud800', "'", 'a.b', '9' * 30, '[type eq "work"]', ',']  # fmt: skip
    rng = random.Random(7644)
    for _ in range(3000):
        if rng.random() < 0.7:
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 20)))
        else:
            text = "".join(chr(rng.randint(0, 0x2FF)) for _ in range(rng.randint(0, 20)))
        for parse in (parse_filter, parse_patch_path, parse_attr_path):
            try:
                parse(text)
            except SCIMError as error:
                assert " at position " in error.detail


def render(node: Filter) -> str:
    """Write ``node`` as filter text, parenthesising every logical operator."""
    if isinstance(node, Compare):
        if isinstance(node.value, bool) or node.value is None:
            value = {True: "true", False: "false", None: "null"}[node.value]
        elif isinstance(node.value, str):
            value = json.dumps(node.value, ensure_ascii=len(node.value) % 2 == 0)
        else:
            value = str(node.value)
        return f"{node.path} {node.op} {value}"
    if isinstance(node, Present):
        return f"{node.path} pr"
    if isinstance(node, (And, Or)):
        word = "and" if isinstance(node, And) else "or"
        return f"({render(node.left)} {word} {render(node.right)})"
    if isinstance(node, Not):
        return f"not ({render(node.expr)})"
    return f"{node.path}[{render(node.filter)}]"


def random_tree(rng: random.Random, depth: int, relative: bool = False) -> Filter:
    """Build a random filter tree at most ``depth`` levels deep."""
    names = ["userName", "orders", "notes", "trueName", "pr", "and", "x-1", "a_b", "$ref"]
    schemas = [None, CORE_USER, ENTERPRISE_USER.upper()]
    attr = AttrPath(
        rng.choice(names),
        None if relative else rng.choice([None, "value", "nothing"]),
        None if relative else rng.choice(schemas),
    )
    kind = rng.randrange(6) if depth > 0 else rng.randrange(2)
    if kind == 0:
        return Present(attr)
    if kind == 1:
        value = rng.choice([
            "", 'q"uo\\te', "tab\tnew\nline\x01", "é😀", "a and b", rng.randint(-10**20, 10**20),
            Decimal("-0.25"), Decimal("1E+3"), True, False, None,
        ])  # fmt: skip
        return Compare(attr, rng.choice(sorted(COMPARISON_OPERATORS)), value)
    if kind in (2, 3):
        pair = random_tree(rng, depth - 1, relative), random_tree(rng, depth - 1, relative)
        return And(*pair) if kind == 2 else Or(*pair)
    if kind == 4 or relative or attr.sub_attr:
        return Not(random_tree(rng, depth - 1, relative))
    return ValuePath(attr, random_tree(rng, depth - 1, relative=True))


def test_random_trees_round_trip() -> None:
    """Rendering any tree as text and parsing it back gives the same tree."""
    rng = random.Random(7643)
    for _ in range(400):
        tree = random_tree(rng, depth=5)
        assert repr(parse_filter(render(tree))) == repr(tree)


# --- Defects of scim2-filter-parser 0.7.0 that this parser must not have -------------------------


def test_and_binds_tighter_than_or() -> None:
    """RFC 7644 §3.4.2.2: "and" takes precedence over "or". scim2-filter-parser 0.7.0 declares
    them at one level (``("left", OR, AND)``) and parses this as ``(a or b) and c``."""
    assert parse_filter("a eq 1 or b eq 2 and c eq 3") == Or(
        cmp("a", "eq", 1), And(cmp("b", "eq", 2), cmp("c", "eq", 3))
    )


def test_string_escapes_are_decoded() -> None:
    """RFC 7644 §3.4.2.2 compValue strings are JSON strings (RFC 7159 §7). scim2-filter-parser
    0.7.0 lexes strings as ``"[^"]*"``: an escaped quote is a lexer ValueError and other escapes
    stay undecoded (``"back\\\\slash"`` keeps both backslashes)."""
    assert parse_filter(r'userName eq "a\"b"') == cmp("userName", "eq", 'a"b')
    assert parse_filter(r'displayName eq "back\\slash"') == cmp("displayName", "eq", "back\\slash")


def test_multi_digit_numbers_are_one_token() -> None:
    """A JSON number is one compValue (RFC 7644 §3.4.2.2, RFC 7159 §6). scim2-filter-parser 0.7.0
    lexes ``NUMBER = r"[0-9]"``, so ``12345`` is five tokens and the filter fails to parse."""
    assert parse_filter("age gt 12345") == cmp("age", "gt", 12345)


def test_names_starting_with_literals_are_names() -> None:
    """ATTRNAME is ``ALPHA *(nameChar)`` (RFC 7644 §3.4.2.2), so ``trueName`` is one name.
    scim2-filter-parser 0.7.0 lexes ``true``/``false``/``null`` before names, splitting
    ``trueName`` into TRUE + ``Name`` and failing to parse."""
    assert parse_filter('trueName eq "x"') == cmp("trueName", "eq", "x")
    assert parse_filter("nullable pr") == pr("nullable")
    assert parse_filter('falsePositive eq "x"') == cmp("falsePositive", "eq", "x")


# --- PATCH paths (RFC 7644 §3.5.2, Figure 7) -----------------------------------------------------

PATCH_PATHS = [
    ("members", "members", PatchPath(path("members"))),
    ("name.familyName", "name.familyName", PatchPath(path("name.familyName"))),
    ("addresses-work", 'addresses[type eq "work"]',
     PatchPath(path("addresses"), cmp("type", "eq", "work"))),
    ("members-value", f'members[value eq "{MEMBER_ID}"]',
     PatchPath(path("members"), cmp("value", "eq", MEMBER_ID))),
    ("members-value-displayName", f'members[value eq "{MEMBER_ID}"].displayName',
     PatchPath(path("members"), cmp("value", "eq", MEMBER_ID), "displayName")),
    ("emails-and", 'emails[type eq "work" and value ew "example.com"]',
     PatchPath(path("emails"),
               And(cmp("type", "eq", "work"), cmp("value", "ew", "example.com")))),
    ("addresses-streetAddress", 'addresses[type eq "work"].streetAddress',
     PatchPath(path("addresses"), cmp("type", "eq", "work"), "streetAddress")),
    ("entra-emails-value", 'emails[type eq "work"].value',
     PatchPath(path("emails"), cmp("type", "eq", "work"), "value")),
    ("enterprise-attribute", f"{ENTERPRISE_USER}:employeeNumber",
     PatchPath(AttrPath("employeeNumber", schema=ENTERPRISE_USER))),
    ("enterprise-manager", f"{ENTERPRISE_USER}:manager",
     PatchPath(AttrPath("manager", schema=ENTERPRISE_USER))),
    ("enterprise-manager-value", f"{ENTERPRISE_USER}:manager.value",
     PatchPath(AttrPath("manager", "value", ENTERPRISE_USER))),
    ("surrounding-spaces", "  name.givenName ", PatchPath(path("name.givenName"))),
]  # fmt: skip


@pytest.mark.parametrize(("case", "text", "expected"), PATCH_PATHS, ids=ids(PATCH_PATHS))
def test_patch_paths(case: str, text: str, expected: PatchPath) -> None:
    """PATCH paths of RFC 7644 §3.5.2 (``attrPath / valuePath [subAttr]``) and Entra's; the
    sub-attribute after ``]`` stays separate from the value filter."""
    assert parse_patch_path(text) == expected


def test_patch_path_whole_extension() -> None:
    """A path naming a whole extension parses as schema = text before the last colon and attr =
    the last segment; ``str()`` restores the URN so the caller can look it up in the schema
    table (RFC 7644 §3.5.2.3 replaces the whole extension)."""
    result = parse_patch_path(ENTERPRISE_USER)
    assert result == PatchPath(
        AttrPath(attr="User", schema="urn:ietf:params:scim:schemas:extension:enterprise:2.0")
    )
    assert str(result.path) == ENTERPRISE_USER


MALFORMED_PATCH_PATHS = [
    ("empty", "", InvalidPath, "expected an attribute path, found end of path at position 0"),
    ("bracket-first", '[type eq "x"]', InvalidPath, "found '['"),
    ("comparison-after", 'emails[type eq "work"].value eq "x"', InvalidPath,
     "unexpected 'eq' after the path at position 29"),
    ("filter-instead-of-path", 'userName eq "x"', InvalidPath, "unexpected 'eq' after the path"),
    ("space-before-bracket", 'emails [type eq "x"]', InvalidPath, "unexpected '['"),
    ("space-before-sub-attribute", 'emails[type eq "x"] .value', InvalidPath,
     "unexpected '.value'"),
    ("two-sub-attributes", 'emails[type eq "x"].value.display', InvalidPath,
     "unexpected '.display'"),
    ("empty-sub-attribute", 'emails[type eq "x"].', InvalidPath, "invalid sub-attribute '.'"),
    ("three-levels", "name.familyName.x", InvalidPath, "invalid attribute path"),
    ("trailing-dot", "emails.", InvalidPath, "invalid attribute path 'emails.'"),
    ("non-urn-prefix", "foo:bar", InvalidPath, "a schema prefix must be a URN"),
    ("quoted", '"emails"', InvalidPath, "expected an attribute path"),
    ("stray-bracket", "emails]", InvalidPath, "unexpected ']'"),
    ("sub-attribute-brackets", 'name.familyName[x pr]', InvalidPath, "cannot follow"),
    ("bad-operator-in-filter", 'emails[type xx "work"]', InvalidFilter,
     "expected a comparison operator after 'type' at position 12"),
    ("unclosed-filter", 'emails[type eq "work"', InvalidFilter, "missing ']'"),
    ("empty-filter", "emails[]", InvalidFilter, "expected an attribute path after '['"),
    ("nested-filter", 'emails[x[y pr]]', InvalidFilter, "cannot be nested"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "text", "error", "message"), MALFORMED_PATCH_PATHS, ids=ids(MALFORMED_PATCH_PATHS)
)
def test_malformed_patch_paths(case: str, text: str, error: type[SCIMError], message: str) -> None:
    """A malformed PATCH path raises InvalidPath; a malformed value filter inside its brackets
    raises InvalidFilter, which RFC 7644 §3.12 Table 9 lists for PATCH path filters."""
    with pytest.raises(error) as raised:
        parse_patch_path(text)
    assert type(raised.value) is error
    assert message in raised.value.detail


# --- Plain attribute paths (sortBy, attributes, excludedAttributes) ------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("userName", AttrPath("userName")),
        ("name.familyName", AttrPath("name", "familyName")),
        ("emails.value", AttrPath("emails", "value")),
        ("members.$ref", AttrPath("members", "$ref")),
        (f"{CORE_USER}:name.familyName", AttrPath("name", "familyName", CORE_USER)),
        (f"{ENTERPRISE_USER}:manager", AttrPath("manager", schema=ENTERPRISE_USER)),
        (ENTERPRISE_USER, AttrPath("User", schema=split_urn(ENTERPRISE_USER)[0])),
        (" userName ", AttrPath("userName")),
    ],
    ids=[
        "name",
        "sub",
        "emails-value",
        "dollar-ref",
        "urn-sub",
        "urn",
        "whole-extension",
        "spaces",
    ],
)
def test_attr_paths(text: str, expected: AttrPath) -> None:
    """``parse_attr_path`` accepts ``[URN:]attr[.subAttr]`` (RFC 7644 §3.10)."""
    assert parse_attr_path(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected an attribute path, found end of attribute path at position 0"),
        ('emails[type eq "work"]', "unexpected '[' after the attribute path 'emails' at pos"),
        ('userName eq "x"', "unexpected 'eq' after the attribute path 'userName' at position 9"),
        ("title pr", "unexpected 'pr'"),
        ("a.b.c", "invalid attribute path 'a.b.c'"),
        ("userName,name", "unexpected character ','"),
        ("(userName)", "expected an attribute path, found '('"),
    ],
    ids=["empty", "brackets", "operator", "pr", "three-levels", "comma", "parens"],
)
def test_malformed_attr_paths(text: str, message: str) -> None:
    """``parse_attr_path`` rejects value filters, operators and anything that is not one path;
    it raises InvalidPath unless the caller names another error class."""
    with pytest.raises(InvalidPath) as raised:
        parse_attr_path(text)
    assert message in raised.value.detail
    with pytest.raises(InvalidFilter):
        parse_attr_path(text, error=InvalidFilter)
