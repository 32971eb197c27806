"""Choose the attributes a response carries (RFC 7644 §3.4.2.5, §3.9; RFC 7643 §2.2, §7).

A `Projection` is built once per request from the `attributes` and `excludedAttributes`
parameters and applied to every rendered resource of the response. It reads each attribute's
`returned` characteristic from the schema table:

* ``always``: returned whatever the parameters say (`id`, and `schemas`, which RFC 7643 §3
  requires in every representation);
* ``never``: never returned;
* ``default``: returned unless `attributes` is given and does not name it, or
  `excludedAttributes` names it;
* ``request``: returned only when `attributes` names it.

The common attributes `id`, `externalId` and `meta` (RFC 7643 §3.1) count as attributes of the
core schema, so ``urn:ietf:params:scim:schemas:core:2.0:User:meta`` names `meta`.

Decisions where the RFCs leave room:

* When both parameters are given, `attributes` wins and `excludedAttributes` is ignored.
  RFC 7644 §3.4.1 calls them "mutually exclusive" without naming an error, and §3.4.2.5 defines
  `excludedAttributes` as removing names "from the default set of attributes to return", the
  very set that `attributes` overrides.
* Names the schema table does not know (an unknown attribute, sub-attribute or schema URN, or
  a sub-attribute of a simple attribute) are ignored, not refused: they name nothing the server
  could return, and RFC 7644 §3.12 has no error for them. With `attributes` given and nothing
  known in it, a response carries its minimum set: `schemas` and `id` (RFC 7644 §3.9).
* Text that is not an attribute path in the notation of RFC 7644 §3.10 (``a..b``, ``[``,
  ``emails[type eq "work"]``) raises `InvalidValue`: RFC 7644 §3.12 Table 9 lists
  ``invalidValue`` for GET (§3.4.2) and POST query (§3.4.3) requests, while ``invalidPath`` is
  listed for PATCH only.
* Names are resolved as everywhere (`ResourceType.resolve`, RFC 7644 §3.10): an unqualified
  name the core schema lacks names the one extension attribute of that name; a name that two
  extensions share, unqualified, is ambiguous and ignored.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .errors import InvalidValue
from .filter import parse_attr_path
from .schema import Attribute, ResourceType, Returned, Schema

__all__ = ["Projection", "ResolvedPath"]


class ResolvedPath(NamedTuple):
    """An attribute path resolved against the schema table, in the schema's spelling.

    `attribute` is None when the path names a whole schema (an extension URN); `sub_attribute`
    is None when it names a whole attribute. Common attributes belong to the core schema.
    """

    schema: str
    attribute: str | None = None
    sub_attribute: str | None = None


@functools.cache
def _hidden_by_default(resource_type: ResourceType) -> frozenset[str] | None:
    """Return the top-level attributes a response without parameters leaves out.

    None when some sub-attribute or extension attribute is itself returned only on request or
    never: then the default projection must walk the values.
    """
    hidden = set()
    for schema in resource_type.schemas:
        for attr in schema.attributes:
            not_default = attr.returned in (Returned.NEVER, Returned.REQUEST)
            if schema is not resource_type.schema and not_default:
                return None
            if any(
                sub.returned in (Returned.NEVER, Returned.REQUEST) for sub in attr.sub_attributes
            ):
                return None
            if not_default:
                hidden.add(attr.name)
    return frozenset(hidden)


# The marker for "leave this attribute out"; None and empty values are legitimate JSON.
_ABSENT: Any = object()


@dataclass(frozen=True)
class Projection:
    """Which attributes a response carries.

    `attributes` is None when the client did not send the `attributes` parameter (or sent it
    empty); otherwise it holds the known paths it named, possibly none.
    """

    resource_type: ResourceType
    attributes: frozenset[ResolvedPath] | None = None
    excluded: frozenset[ResolvedPath] = field(default_factory=frozenset)

    @classmethod
    def from_params(
        cls,
        resource_type: ResourceType,
        attributes: str | Iterable[str] | None,
        excluded: str | Iterable[str] | None,
    ) -> Projection:
        """Return the projection for the `attributes` and `excludedAttributes` parameters.

        Each parameter is a comma-separated string (the query-string form) or a list of
        strings (the POST `/.search` form, RFC 7644 §3.4.3), whose items may themselves hold
        commas. Empty names are skipped. Raise `InvalidValue` when a name is not an attribute
        path; unknown names are ignored (see the module docstring).
        """
        included = _resolve_all(resource_type, attributes, "attributes")
        removed = _resolve_all(resource_type, excluded, "excludedAttributes")
        if included is not None:
            # RFC 7644 §3.4.2.5: `excludedAttributes` trims the default set, which
            # `attributes` has replaced; the two are "mutually exclusive" (§3.4.1).
            removed = None
        return cls(resource_type, included, removed or frozenset())

    def apply(self, resource: Mapping[str, Any]) -> dict:
        """Return a copy of the rendered `resource` holding only the attributes to return.

        `resource` is laid out as `render_resource` lays it out: `schemas`, common and core
        attributes at the top level, one object per schema extension keyed by its URN. Complex
        values and extension objects left without any member are dropped, and `schemas` then
        lists only the core schema and the extensions whose object remains. `resource` itself
        is never modified.
        """
        if self.attributes is None and not self.excluded:
            hidden = _hidden_by_default(self.resource_type)
            if hidden is not None:
                # Without parameters only whole top-level attributes can be left out, so a
                # shallow copy without them is the answer (the common case: every list page).
                # Its nested values are the input's: render_resource makes a fresh resource
                # per response, and nothing changes it afterwards.
                return {key: value for key, value in resource.items() if key not in hidden}
        core = self.resource_type.schema.id
        result: dict = {}
        for key, value in resource.items():
            if key == "schemas":
                result[key] = value  # filtered below, once the extensions are known
                continue
            name = key
            if (extension := self.resource_type.extension(key)) is not None:
                name = extension.id
                projected = self._project_extension(extension, value)
            elif (attr := self.resource_type.attribute(key)) is not None:
                name = attr.name
                projected = self._project_attribute(core, attr, value)
            else:
                # Not in the schema table: returned by default, never requested by name.
                projected = copy.deepcopy(value) if self.attributes is None else _ABSENT
            if projected is not _ABSENT:
                result[name] = projected

        if "schemas" in result:
            result["schemas"] = [
                urn
                for urn in result["schemas"]
                if (ext := self.resource_type.extension(urn)) is None or ext.id in result
            ]
        return result

    def needs(self, attribute_name: str, schema_urn: str | None = None) -> bool:
        """Return whether the top-level attribute `attribute_name` can appear in the response.

        The storage layer asks this to skip loading what would be thrown away (a Group's
        `members`, say). `attribute_name` may also be an extension URN: then the answer is
        whether any of the extension's attributes can appear. A name the schema table does not
        know is treated as `apply` treats an unknown member: needed unless `attributes` is given.
        """
        if schema_urn is None:
            extension = self.resource_type.extension(attribute_name)
            if extension is not None:
                return any(self._returns(extension.id, a) for a in extension.attributes)
        found = self.resource_type.resolve(attribute_name, schema_urn)
        if found is None:
            return self.attributes is None
        schema, attr = found
        return self._returns(schema.id, attr)

    def kept_sub_attributes(self, attribute_name: str) -> frozenset[str]:
        """Return the sub-attributes of the multi-valued complex attribute `attribute_name`
        that the response keeps, for values built one by one (a streamed member list)."""
        attr = self.resource_type.attribute(attribute_name)
        sample = {sub.name: "x" for sub in attr.sub_attributes}
        projected = self.apply({attr.name: [sample]}).get(attr.name, [])
        return frozenset(projected[0]) if projected else frozenset()

    # Decisions

    def _returns(self, schema: str, attr: Attribute) -> bool:
        """Return whether the top-level attribute `attr` of `schema` is returned."""
        if attr.returned is Returned.NEVER:
            return False
        if attr.returned is Returned.ALWAYS:
            # RFC 7644 §3.4.2.5: excludedAttributes "SHALL have no effect" on these.
            return True
        named = self.attributes is not None and any(
            path.schema == schema and path.attribute == attr.name for path in self.attributes
        )
        if attr.returned is Returned.REQUEST:
            return named
        if self.attributes is not None:
            return named or ResolvedPath(schema) in self.attributes
        return (
            ResolvedPath(schema, attr.name) not in self.excluded
            and ResolvedPath(schema) not in self.excluded
        )

    def _returns_sub(self, schema: str, attr: Attribute, sub: Attribute | None) -> bool:
        """Return whether a sub-attribute of the returned `attr` is returned.

        `sub` is its definition, None for a member the schema table does not know, which is
        returned by default and cannot be named.
        """
        returned = sub.returned if sub is not None else Returned.DEFAULT
        if returned is Returned.NEVER:
            return False
        if returned is Returned.ALWAYS:
            return True
        path = ResolvedPath(schema, attr.name, sub.name) if sub is not None else None
        if self.attributes is not None:
            named = path in self.attributes
            if returned is Returned.REQUEST:
                # Asking for the parent does not ask for a sub-attribute returned on request.
                return named
            return named or not self._narrowed(schema, attr)
        return returned is not Returned.REQUEST and path not in self.excluded

    def _narrowed(self, schema: str, attr: Attribute) -> bool:
        """Return whether `attributes` names some sub-attributes of `attr` but not `attr` itself.

        RFC 7644 §3.9: the response carries the "attributes or sub-attributes explicitly
        requested", so `name.givenName` returns `name` with `givenName` alone.
        """
        attributes = self.attributes or frozenset()
        if ResolvedPath(schema, attr.name) in attributes or ResolvedPath(schema) in attributes:
            return False
        return any(path.schema == schema and path.attribute == attr.name for path in attributes)

    # Projection of values

    def _project_extension(self, extension: Schema, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return copy.deepcopy(value) if self.attributes is None else _ABSENT
        projected: dict = {}
        for key, member in value.items():
            attr = extension.attribute(key)
            if attr is None:
                name, kept = key, copy.deepcopy(member) if self.attributes is None else _ABSENT
            else:
                name, kept = attr.name, self._project_attribute(extension.id, attr, member)
            if kept is not _ABSENT:
                projected[name] = kept
        return projected or _ABSENT

    def _project_attribute(self, schema: str, attr: Attribute, value: Any) -> Any:
        if not self._returns(schema, attr):
            return _ABSENT
        if not attr.is_complex:
            return copy.deepcopy(value)
        if isinstance(value, list):
            items = [self._project_complex(schema, attr, item) for item in value]
            # An element left without members holds no value (RFC 7643 §2.5).
            items = [item for item in items if item != {}]
            return items or _ABSENT
        projected = self._project_complex(schema, attr, value)
        return _ABSENT if projected == {} else projected

    def _project_complex(self, schema: str, attr: Attribute, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return copy.deepcopy(value)
        projected: dict = {}
        for key, member in value.items():
            sub = attr.sub_attribute(key)
            if self._returns_sub(schema, attr, sub):
                projected[sub.name if sub is not None else key] = copy.deepcopy(member)
        return projected


def _resolve_all(
    resource_type: ResourceType, param: str | Iterable[str] | None, param_name: str
) -> frozenset[ResolvedPath] | None:
    """Return the known paths named in the parameter, or None when it names nothing at all."""
    if param is None:
        return None
    if isinstance(param, str):
        items = [param]
    elif isinstance(param, list | tuple):
        items = list(param)
    else:
        raise InvalidValue(f"'{param_name}' must be a string or a list of strings.")
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidValue(f"'{param_name}' must hold attribute paths as strings.")
        names.extend(name for name in item.split(",") if name.strip())
    if not names:
        return None
    resolved = (_resolve(resource_type, name, param_name) for name in names)
    return frozenset(path for path in resolved if path is not None)


def _resolve(resource_type: ResourceType, text: str, param_name: str) -> ResolvedPath | None:
    """Return the path `text` names in `resource_type`, or None when it names nothing known.

    Raise `InvalidValue` when `text` is not in the attribute notation of RFC 7644 §3.10.
    """
    # A whole schema first: its URN's last segment may not parse as an attribute name.
    whole = resource_type.schema_for(text.strip())
    if whole is not None:
        return ResolvedPath(whole.id)
    try:
        path = parse_attr_path(text, error=InvalidValue)
    except InvalidValue as exc:
        raise InvalidValue(f"Invalid '{param_name}' parameter: {exc.detail}") from None
    found = resource_type.resolve(path.attr, path.schema)
    if found is None:
        return None
    schema, attr = found
    if path.sub_attr is None:
        return ResolvedPath(schema.id, attr.name)
    sub = attr.sub_attribute(path.sub_attr) if attr.is_complex else None
    if sub is None:
        return None
    return ResolvedPath(schema.id, attr.name, sub.name)
