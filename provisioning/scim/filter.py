"""Parse SCIM filters and attribute paths (RFC 7644 §3.4.2.2, §3.5.2, §3.10).

The grammar is RFC 7644 Figure 1 (filters) and Figure 7 (PATCH paths), read with these
decisions:

* ``not`` binds tighter than ``and``, which binds tighter than ``or``; ``and`` and ``or`` are
  left-associative (RFC 7644 §3.4.2.2, "order of operations").
* Operators, ``and``/``or``/``not`` and the literals ``true``/``false``/``null`` are matched
  case-insensitively; attribute names keep the case they were written in.
* The text is cut into tokens by maximal munch, and a word is a keyword or an attribute name
  according to where the grammar stands, never by its prefix: ``orders``, ``notes`` and
  ``trueName`` are attribute names, and so is ``and`` where an attribute path is expected.
* Spaces and tabs separate tokens; one or more are accepted, also around the whole filter.
  Tokens that cannot run into each other need no space (``userName eq"x"``,
  ``not(title pr)``), but a value filter's ``[`` and a trailing ``.subAttr`` must touch the
  attribute path, as in the ABNF.
* Comparison values follow JSON (RFC 7159): strings with every JSON escape, numbers (``int``
  without fraction or exponent, otherwise an exact ``Decimal``), ``true``, ``false``, ``null``.
* Microsoft Entra ID sends ``emails[type eq "work"].value eq "x"``, which Figure 1 lacks. With
  the VALUE_FILTER_SUB_ATTRIBUTE leniency (`dialect.py`) it is folded into the value filter:
  ``emails[type eq "work" and value eq "x"]``; without it, it is an ``invalidFilter``.
* Paths inside ``[...]`` name sub-attributes of the parent, so they carry neither a schema URN
  nor a further ``.subAttr`` (RFC 7643 §2.3.8: sub-attributes are never complex), and a value
  filter cannot contain another value filter.

Parsing is iterative (operator-precedence with an explicit stack), so no input can reach
Python's recursion limit; nesting depth, comparison count and length are capped. Every syntax
error raises ``InvalidFilter`` (or ``InvalidPath`` for PATCH paths) whose detail names the
problem and its character position, counted from 0.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NamedTuple, NoReturn

from .dialect import NO_LENIENCY, Leniency
from .errors import InvalidFilter, InvalidPath, SCIMError

__all__ = [
    "COMPARISON_OPERATORS",
    "And",
    "AttrPath",
    "Compare",
    "Filter",
    "Not",
    "Or",
    "PatchPath",
    "Present",
    "Value",
    "ValuePath",
    "parse_attr_path",
    "parse_filter",
    "parse_patch_path",
    "split_urn",
]

MAX_LENGTH = 4096
MAX_DEPTH = 32
MAX_NODES = 128

# RFC 7644 §3.4.2.2 Table 3, without "pr", which takes no value.
COMPARISON_OPERATORS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})

Value = str | int | Decimal | bool | None


# --- Syntax tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttrPath:
    """An attribute path: ``[schema ":"] attr ["." sub_attr]`` (RFC 7644 §3.10).

    ``schema`` is the schema URN as written (``None`` when unqualified). A path naming a whole
    extension, such as ``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User``, parses
    like any qualified path: ``schema`` is the text before the last colon and ``attr`` the last
    segment (``"User"``). Only the schema table can tell the two apart, so callers check
    whether ``str(path)`` is a known extension URN.
    """

    attr: str
    sub_attr: str | None = None
    schema: str | None = None

    def __str__(self) -> str:
        """Return the path in canonical text form, e.g. ``urn:...:User:manager.value``."""
        text = f"{self.schema}:{self.attr}" if self.schema else self.attr
        return f"{text}.{self.sub_attr}" if self.sub_attr else text


@dataclass(frozen=True)
class Compare:
    """An attribute compared with a value: ``path op value``; ``op`` is lowercase."""

    path: AttrPath
    op: str
    value: Value


@dataclass(frozen=True)
class Present:
    """A presence test: ``path pr``."""

    path: AttrPath


@dataclass(frozen=True)
class And:
    """Both sub-filters match."""

    left: Filter
    right: Filter


@dataclass(frozen=True)
class Or:
    """Either sub-filter matches."""

    left: Filter
    right: Filter


@dataclass(frozen=True)
class Not:
    """The sub-filter does not match."""

    expr: Filter


@dataclass(frozen=True)
class ValuePath:
    """A value filter ``path[filter]``: one value of ``path`` must match ``filter``.

    The paths inside ``filter`` are relative to ``path``: no schema, and ``attr`` is the
    sub-attribute name (``emails[type eq "work"]`` holds ``AttrPath("type")``).
    """

    path: AttrPath
    filter: Filter


Filter = Compare | Present | And | Or | Not | ValuePath


@dataclass(frozen=True)
class PatchPath:
    """A PATCH ``path``: ``attrPath / valuePath [subAttr]`` (RFC 7644 §3.5.2, Figure 7).

    ``addresses[type eq "work"].streetAddress`` gives ``path=AttrPath("addresses")``, the
    value filter, and ``sub_attr="streetAddress"``; unlike in filters, the trailing sub-attribute
    is kept apart because PATCH targets it.
    """

    path: AttrPath
    value_filter: Filter | None = None
    sub_attr: str | None = None


# --- Public functions ----------------------------------------------------------------------------


def parse_filter(
    text: str,
    *,
    max_length: int = MAX_LENGTH,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
    leniencies: frozenset[Leniency] = NO_LENIENCY,
) -> Filter:
    """Return the syntax tree of a ``filter`` (RFC 7644 §3.4.2.2); raise ``InvalidFilter``.

    ``max_depth`` caps nesting of parentheses, ``not (...)`` and ``[...]``; ``max_nodes`` caps
    the number of comparisons and presence tests. ``leniencies`` are the connection's IdP
    departures from the grammar to read (none: the letter of Figure 1).
    """
    _check_length(text, max_length, InvalidFilter, "filter")
    parser = _Parser(text, InvalidFilter, "filter", max_depth=max_depth, max_nodes=max_nodes)
    parser.leniencies = leniencies
    if parser.peek().kind == _EOF:
        raise InvalidFilter("filter is empty at position 0")
    return parser.expression(depth=0, bracket=None)


def parse_attr_path(text: str, *, error: type[SCIMError] = InvalidPath) -> AttrPath:
    """Return the attribute path in ``text``, e.g. a ``sortBy`` or ``attributes`` entry.

    Accept ``attr``, ``attr.subAttr`` and their URN-qualified forms (RFC 7644 §3.10), with
    optional surrounding spaces; reject value filters, operators and anything else by raising
    ``error``, so each caller picks the scimType it must answer with.
    """
    _check_length(text, MAX_LENGTH, error, "attribute path")
    parser = _Parser(text, error, "attribute path", max_depth=0, max_nodes=0)
    token = parser.advance()
    if token.kind != _WORD:
        parser.fail(f"expected an attribute path, found {parser.describe(token)}", token.pos)
    path = parser.attr_path(token, relative=False)
    parser.expect_end(f"after the attribute path {_quote(token.text)}")
    return path


def parse_patch_path(
    text: str,
    *,
    max_length: int = MAX_LENGTH,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> PatchPath:
    """Return the PATCH operation ``path`` in ``text`` (RFC 7644 §3.5.2, Figure 7).

    Raise ``InvalidPath`` when the path is malformed, and ``InvalidFilter`` when only the value
    filter inside ``[...]`` is: RFC 7644 §3.12 Table 9 lists ``invalidFilter`` for PATCH path
    filters. A whole-extension path parses as described on ``AttrPath``.
    """
    _check_length(text, max_length, InvalidPath, "path")
    parser = _Parser(text, InvalidPath, "path", max_depth=max_depth, max_nodes=max_nodes)
    token = parser.advance()
    if token.kind != _WORD:
        parser.fail(f"expected an attribute path, found {parser.describe(token)}", token.pos)
    path = parser.attr_path(token, relative=False)
    value_filter: Filter | None = None
    sub_attr: str | None = None
    bracket = parser.peek()
    if bracket.kind == _LBRACKET and not bracket.spaced:
        parser.check_value_path_target(path, token, bracket)
        parser.advance()
        parser.error, parser.subject = InvalidFilter, "filter"
        value_filter = parser.expression(depth=1, bracket=bracket)
        parser.error, parser.subject = InvalidPath, "path"
        after = parser.peek()
        if after.kind == _SUBATTR and not after.spaced:
            sub_attr = parser.sub_attr_name(parser.advance())
    parser.expect_end("after the path")
    return PatchPath(path=path, value_filter=value_filter, sub_attr=sub_attr)


def split_urn(text: str) -> tuple[str | None, str]:
    """Split ``text`` into (schema URN, rest) at its last colon; ``(None, text)`` if unqualified.

    Only text starting with ``urn:`` (in any case) and holding a further colon is qualified:
    ``split_urn("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName")`` gives
    ``("urn:ietf:params:scim:schemas:core:2.0:User", "name.familyName")``. Nothing is validated.
    """
    if text[:4].lower() == "urn:":
        schema, _, rest = text.rpartition(":")
        if len(schema) > 3:
            return schema, rest
    return None, text


# --- Tokens --------------------------------------------------------------------------------------

_EOF = "end"
_WORD = "word"  # an attribute path or a keyword; the grammar position decides which
_STRING = "string"
_NUMBER = "number"
_SUBATTR = "subattr"  # ".name" right after "]" (Entra's emails[...].value)
_LPAREN, _RPAREN, _LBRACKET, _RBRACKET = "(", ")", "[", "]"

_WHITESPACE = " \t"
_DIGITS = "0123456789"
_ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# The lexer's maximal munches: the longest run of a token's characters, or of spaces.
_SPACES = re.compile(r"[ \t]*")
_WORD_CHARS = re.compile(r"[A-Za-z0-9_.:$-]*")
_NUMBER_CHARS = re.compile(r"[A-Za-z0-9+._-]*")
_NAME_CHARS = re.compile(r"[A-Za-z0-9_$-]*")
# A well-formed JSON string (RFC 7159 §7); one that is not is read character by character,
# to say where it goes wrong.
_JSON_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"')
_JSON_ESCAPES = frozenset('"\\/bfnrtu')
_HEX = frozenset("0123456789abcdefABCDEF")

# ATTRNAME of RFC 7644 Figure 1, plus "$ref", a real sub-attribute (RFC 7643 §2.3.7).
_NAME = r"(?:[A-Za-z][A-Za-z0-9_-]*|\$ref)"
_NAME_RE = re.compile(_NAME)
_PATH_RE = re.compile(rf"(?P<attr>{_NAME})(?:\.(?P<sub>{_NAME}))?")
_URN_RE = re.compile(r"[uU][rR][nN](?::[A-Za-z0-9._-]+)+")
# The JSON number of RFC 7159 §6.
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?P<frac>\.[0-9]+)?(?P<exp>[eE][+-]?[0-9]+)?")

_PRECEDENCE = {"or": 1, "and": 2}
_GROUP, _NOT_GROUP = "(", "not ("


class _Token(NamedTuple):
    """One lexical token; ``pos`` is its 0-based offset in the input."""

    kind: str
    text: str
    pos: int
    spaced: bool  # whitespace came before it
    value: Value = None


# --- Parser --------------------------------------------------------------------------------------


class _Parser:
    """Tokenize on demand and parse with an explicit operator stack."""

    def __init__(
        self,
        text: str,
        error: type[SCIMError],
        subject: str,
        *,
        max_depth: int,
        max_nodes: int,
    ) -> None:
        self.text = text
        self.error = error
        self.subject = subject
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.nodes = 0
        self.offset = 0
        self.lookahead: _Token | None = None
        self.leniencies = NO_LENIENCY

    # Errors

    def fail(self, message: str, pos: int) -> NoReturn:
        """Raise the configured error with ``message`` and the position appended."""
        raise self.error(f"{message} at position {pos}")

    def describe(self, token: _Token) -> str:
        """Return how ``token`` reads in an error detail."""
        if token.kind == _EOF:
            return f"end of {self.subject}"
        return _quote(token.text)

    # Lexer

    def peek(self) -> _Token:
        """Return the next token without consuming it."""
        if self.lookahead is None:
            self.lookahead = self._lex()
        return self.lookahead

    def advance(self) -> _Token:
        """Consume and return the next token."""
        token = self.peek()
        self.lookahead = None
        return token

    def _lex(self) -> _Token:
        """Read the token after ``self.offset``, skipping spaces and tabs."""
        text, start = self.text, self.offset
        pos = _SPACES.match(text, start).end()
        spaced = pos > start
        if pos == len(text):
            return _Token(_EOF, "", pos, spaced)
        char = text[pos]
        if char in "()[]":
            self.offset = pos + 1
            return _Token(char, char, pos, spaced)
        if char == '"':
            end = self._string_end(pos)
            self.offset = end
            raw = text[pos:end]
            return _Token(_STRING, raw, pos, spaced, self._decode_string(raw, pos))
        if char in _DIGITS or char == "-":
            end = _NUMBER_CHARS.match(text, pos).end()
            self.offset = end
            # Decoded only where a value is expected, so "1abc" as a path reads as a bad path.
            return _Token(_NUMBER, text[pos:end], pos, spaced)
        if char in _ALPHA or char == "$":
            end = _WORD_CHARS.match(text, pos).end()
            self.offset = end
            return _Token(_WORD, text[pos:end], pos, spaced)
        if char == ".":
            end = _NAME_CHARS.match(text, pos + 1).end()
            self.offset = end
            return _Token(_SUBATTR, text[pos:end], pos, spaced)
        self.fail(f"unexpected character {_quote_char(char)}", pos)

    def _string_end(self, pos: int) -> int:
        """Return the index just past the JSON string opening at ``pos`` (RFC 7159 §7)."""
        well_formed = _JSON_STRING.match(self.text, pos)
        if well_formed is not None:
            return well_formed.end()
        text, index = self.text, pos + 1
        while index < len(text):
            char = text[index]
            if char == '"':
                return index + 1
            if char == "\\":
                escape = text[index + 1 : index + 2]
                if escape not in _JSON_ESCAPES:  # also true for "", a trailing backslash
                    shown = _quote_char(escape) if escape else f"end of {self.subject}"
                    self.fail(f"invalid escape: backslash followed by {shown} in string", index)
                digits = text[index + 2 : index + 6]
                if escape == "u" and (len(digits) < 4 or not _HEX.issuperset(digits)):
                    self.fail("invalid \\u escape: expected four hex digits", index)
                index += 6 if escape == "u" else 2
                continue
            if char < " ":
                # JSON strings may not hold raw control characters; they must be escaped.
                self.fail(f"unescaped control character {_quote_char(char)} in string", index)
            index += 1
        self.fail("unterminated string", pos)

    def _decode_string(self, raw: str, pos: int) -> str:
        """Return the value of the JSON string literal ``raw``, already checked for syntax."""
        value: str = json.loads(raw)
        try:
            # A lone surrogate (from "\ud800" or in the text itself) cannot be stored or
            # compared as UTF-8, so it is a malformed filter, not a server error later.
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("string holds an unpaired UTF-16 surrogate", pos)
        return value

    def _decode_number(self, raw: str, pos: int) -> int | Decimal:
        """Return the JSON number ``raw`` as an ``int``, or a ``Decimal`` if it has a fraction
        or an exponent."""
        match = _NUMBER_RE.fullmatch(raw)
        if match is None:
            self.fail(f"invalid number {_quote(raw)}", pos)
        try:
            if match["frac"] is None and match["exp"] is None:
                return int(raw)
            # Decimal keeps "0.1" exact, where float would not.
            return Decimal(raw)
        except (ValueError, InvalidOperation):
            # int() refuses more than sys.get_int_max_str_digits() digits.
            self.fail(f"number {_quote(raw)} is too long", pos)

    # Attribute paths

    def attr_path(self, token: _Token, *, relative: bool) -> AttrPath:
        """Return the attribute path spelled by the word ``token``."""
        schema, rest = split_urn(token.text)
        if schema is not None and _URN_RE.fullmatch(schema) is None:
            self.fail(f"invalid schema URN {_quote(schema)}", token.pos)
        match = _PATH_RE.fullmatch(rest)
        if match is None:
            hint = "" if ":" not in rest else " (a schema prefix must be a URN: 'urn:...')"
            self.fail(f"invalid attribute path {_quote(token.text)}{hint}", token.pos)
        path = AttrPath(attr=match["attr"], sub_attr=match["sub"], schema=schema)
        if relative and (path.schema or path.sub_attr):
            # RFC 7644 §3.4.2.2: inside "[...]" names are sub-attributes of the parent, and
            # RFC 7643 §2.3.8 rules out sub-attributes of sub-attributes.
            self.fail(
                f"attribute {_quote(token.text)} inside '[...]' must be a plain sub-attribute name",
                token.pos,
            )
        return path

    def sub_attr_name(self, token: _Token) -> str:
        """Return the name in a ``.name`` token that follows ``]``."""
        name = token.text[1:]
        if _NAME_RE.fullmatch(name) is None:
            self.fail(f"invalid sub-attribute {_quote(token.text)}", token.pos)
        return name

    def check_value_path_target(self, path: AttrPath, token: _Token, bracket: _Token) -> None:
        """Reject ``[`` after a path that cannot hold a multi-valued complex attribute."""
        if path.sub_attr is not None:
            # RFC 7643 §2.3.8: a sub-attribute is never complex, so it takes no value filter.
            self.fail(
                f"a value filter '[...]' cannot follow the sub-attribute {_quote(token.text)}",
                bracket.pos,
            )

    def expect_end(self, where: str) -> None:
        """Fail unless the input is exhausted."""
        token = self.peek()
        if token.kind != _EOF:
            self.fail(f"unexpected {self.describe(token)} {where}", token.pos)

    # Filters

    def expression(self, *, depth: int, bracket: _Token | None) -> Filter:
        """Parse a filter up to the end of input, or up to and including the ``]`` that closes
        ``bracket`` when parsing a value filter; ``depth`` is the enclosing nesting depth.

        Operator-precedence parsing: ``operands`` holds finished sub-filters; ``operators``
        holds pending ``and``/``or`` and open groups, so deep nesting costs list entries, not
        Python stack frames.
        """
        operands: list[Filter] = []
        operators: list[tuple[str, _Token]] = []
        groups = 0
        previous: _Token | None = bracket
        while True:
            # An operand: "(", "not (", or an attribute expression.
            token = self.advance()
            if token.kind == _WORD and token.text.lower() == "not" and self.peek().kind == _LPAREN:
                groups += 1
                self._check_depth(depth + groups, token)
                operators.append((_NOT_GROUP, token))
                self.advance()
                previous = token
                continue
            if token.kind == _LPAREN:
                groups += 1
                self._check_depth(depth + groups, token)
                operators.append((_GROUP, token))
                previous = token
                continue
            if token.kind != _WORD:
                after = "" if previous is None else f" after {self.describe(previous)}"
                self.fail(
                    f"expected an attribute path{after}, found {self.describe(token)}", token.pos
                )
            operands.append(self._attribute_expression(token, depth + groups, bracket))
            # After an operand: "and", "or", ")", "]" or the end.
            while True:
                token = self.advance()
                keyword = token.text.lower() if token.kind == _WORD else ""
                if keyword in _PRECEDENCE:
                    self._reduce(operands, operators, _PRECEDENCE[keyword])
                    operators.append((keyword, token))
                    previous = token
                    break
                if token.kind == _RPAREN:
                    self._reduce(operands, operators, 0)
                    if not operators:
                        self.fail("unmatched ')'", token.pos)
                    kind, _ = operators.pop()
                    groups -= 1
                    if kind == _NOT_GROUP:
                        operands.append(Not(operands.pop()))
                    continue
                if token.kind == _RBRACKET and bracket is not None:
                    self._close(operands, operators)
                    return operands[0]
                if token.kind == _EOF and bracket is None:
                    self._close(operands, operators)
                    return operands[0]
                if token.kind == _EOF:
                    self.fail("missing ']' to close the '['", bracket.pos)
                if token.kind == _RBRACKET:
                    self.fail("unmatched ']'", token.pos)
                closers = "')', ']'" if bracket else "')'"
                self.fail(
                    f"expected 'and', 'or', {closers} or end of {self.subject} after an "
                    f"expression, found {self.describe(token)}",
                    token.pos,
                )

    def _attribute_expression(self, token: _Token, depth: int, bracket: _Token | None) -> Filter:
        """Parse ``path pr``, ``path op value`` or ``path[filter]`` starting at word ``token``."""
        path = self.attr_path(token, relative=bracket is not None)
        following = self.peek()
        if following.kind == _LBRACKET:
            if bracket is not None:
                self.fail("a value filter '[...]' cannot be nested in another", following.pos)
            if following.spaced:
                self.fail(
                    f"'[' must follow the attribute path {_quote(token.text)} without spaces",
                    following.pos,
                )
            self.check_value_path_target(path, token, following)
            self._check_depth(depth + 1, following)
            self.advance()
            inner = self.expression(depth=depth + 1, bracket=following)
            after = self.peek()
            if after.kind != _SUBATTR or after.spaced:
                return ValuePath(path, inner)
            if Leniency.VALUE_FILTER_SUB_ATTRIBUTE not in self.leniencies:
                # RFC 7644 §3.4.2.2 Figure 1: a valuePath ends at "]"; only a PATCH path
                # (Figure 7) takes a sub-attribute after it.
                self.fail(
                    f"a value filter ends at ']': write {_quote(token.text)}[... and "
                    f"{after.text[1:]} ...] rather than '].{after.text[1:]}'",
                    after.pos,
                )
            # Entra: emails[type eq "work"].value eq "x" means one email with both properties.
            self.advance()
            sub = AttrPath(self.sub_attr_name(after))
            return ValuePath(path, And(inner, self._comparison(sub, after)))
        if (
            token.text.lower() == "not"
            and following.kind == _WORD
            and following.text.lower() not in COMPARISON_OPERATORS | {"pr"}
        ):
            self.fail("'not' must be followed by '('", following.pos)
        return self._comparison(path, token)

    def _comparison(self, path: AttrPath, path_token: _Token) -> Compare | Present:
        """Parse the operator (and value) that follow ``path``."""
        op_token = self.advance()
        op = op_token.text.lower() if op_token.kind == _WORD else ""
        if op != "pr" and op not in COMPARISON_OPERATORS:
            self._fail_operator(path_token, op_token)
        self.nodes += 1
        if self.nodes > self.max_nodes:
            self.fail(
                f"filter has more than the maximum of {self.max_nodes} comparisons",
                path_token.pos,
            )
        if op == "pr":
            return Present(path)
        return Compare(path, op, self._value(op_token))

    def _fail_operator(self, path_token: _Token, op_token: _Token) -> NoReturn:
        """Raise the error for a missing or unknown operator, listing the valid ones."""
        raise self.error(
            f"expected a comparison operator after {self.describe(path_token)} at position "
            f"{op_token.pos}, found {self.describe(op_token)} (operators: eq, ne, co, sw, ew, "
            "gt, ge, lt, le, pr)"
        )

    def _value(self, op_token: _Token) -> Value:
        """Parse a compValue (RFC 7644 §3.4.2.2): a JSON string, number, true, false or null."""
        token = self.advance()
        if token.kind == _STRING:
            return token.value
        if token.kind == _NUMBER:
            return self._decode_number(token.text, token.pos)
        literal = token.text.lower() if token.kind == _WORD else ""
        if literal == "true":
            return True
        if literal == "false":
            return False
        if literal == "null":
            return None
        self.fail(
            f"expected a comparison value (a JSON string, number, true, false or null) after "
            f"{self.describe(op_token)}, found {self.describe(token)}",
            token.pos,
        )

    def _reduce(
        self, operands: list[Filter], operators: list[tuple[str, _Token]], precedence: int
    ) -> None:
        """Apply pending ``and``/``or`` that bind at least as tightly as ``precedence``."""
        while operators and _PRECEDENCE.get(operators[-1][0], 0) >= max(precedence, 1):
            kind, _ = operators.pop()
            right = operands.pop()
            left = operands.pop()
            operands.append(And(left, right) if kind == "and" else Or(left, right))

    def _close(self, operands: list[Filter], operators: list[tuple[str, _Token]]) -> None:
        """Apply every pending operator; fail on a group that was never closed."""
        self._reduce(operands, operators, 0)
        if operators:
            kind, token = operators[-1]
            self.fail(f"missing ')' to close the '{kind}'", token.pos)

    def _check_depth(self, depth: int, token: _Token) -> None:
        """Fail if ``depth`` nested groups exceed the configured maximum."""
        if depth > self.max_depth:
            self.fail(f"filter nesting exceeds the maximum depth of {self.max_depth}", token.pos)


# --- Helpers -------------------------------------------------------------------------------------


def _check_length(text: str, max_length: int, error: type[SCIMError], subject: str) -> None:
    """Refuse over-long input before any work is spent on it."""
    if len(text) > max_length:
        raise error(
            f"{subject} is longer than the maximum of {max_length} characters "
            f"at position {max_length}"
        )


def _quote(text: str, limit: int = 40) -> str:
    """Quote user text for an error detail, shortened so details stay small."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"'{text}'"


def _quote_char(char: str) -> str:
    """Quote one character, spelling out invisible ones as U+XXXX."""
    if char.isprintable() and char not in _WHITESPACE:
        return f"'{char}'"
    return f"U+{ord(char):04X}"
