"""The schema table: every attribute the server knows, as RFC 7643 §7 describes attributes.

`/Schemas`, `/ResourceTypes`, `/ServiceProviderConfig`, request validation, filtering, sorting,
projection and PATCH all read these definitions; no other module declares an attribute list.
The definitions follow the schema representations of RFC 7643 §8.7.1 (User, Group,
EnterpriseUser) and §8.7.2 (ServiceProviderConfig, ResourceType, Schema).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from enum import StrEnum


class Type(StrEnum):
    STRING = "string"
    BOOLEAN = "boolean"
    DECIMAL = "decimal"
    INTEGER = "integer"
    DATETIME = "dateTime"
    BINARY = "binary"
    REFERENCE = "reference"
    COMPLEX = "complex"


class Mutability(StrEnum):
    READ_ONLY = "readOnly"
    READ_WRITE = "readWrite"
    IMMUTABLE = "immutable"
    WRITE_ONLY = "writeOnly"


class Returned(StrEnum):
    ALWAYS = "always"
    NEVER = "never"
    DEFAULT = "default"
    REQUEST = "request"


class Uniqueness(StrEnum):
    NONE = "none"
    SERVER = "server"
    GLOBAL = "global"


# Where an attribute is stored is this server's own business, not RFC 7643's: the fields below
# (`column`, `indexes`, `rows`, `derived`) are never published at /Schemas. The model's mirror
# columns and their indexes are made from them (`provisioning.storage.mirrors`), the writes fill
# the columns from the document, and filters and sorting compile against them.


class Index(StrEnum):
    """An index on an attribute's column; every one leads with the tenant or, for trigram
    indexes, answers a pattern that the tenant condition then narrows."""

    # A btree on (tenant, column), on lower(column) unless the attribute is caseExact: eq, ne,
    # gt, ge, lt, le and sortBy (RFC 7644 §3.4.2.2, §3.4.2.3) are index scans.
    LOOKUP = "lookup"
    # A LOOKUP index that ends with the list order's tiebreak, (created, id): a page sorted by
    # the attribute is read from it in order. Use it for an attribute many resources lack: its
    # entries then differ, where a LOOKUP index of mostly NULLs shrinks to a few pages (btree
    # deduplication) and lures the planner into reading a whole tenant through it.
    SORTED = "sorted"
    # A trigram GIN index on lower(column): co, sw and ew (LIKE '%x%') are index scans.
    SUBSTRING = "substring"


class Rows(StrEnum):
    """Rows an attribute's values are kept in, besides or instead of the JSON document."""

    # In the document, and each value a `UserValue` row too, so that filters on values are
    # index scans.
    VALUES = "values"
    # Only as rows (`Membership`), never in the document: a group's members.
    MEMBERS = "members"
    # Worked out from `Membership` rows when the resource is read: a user's groups.
    MEMBERSHIPS = "memberships"


@dataclass(frozen=True)
class Attribute:
    """One attribute or sub-attribute definition (RFC 7643 §7)."""

    name: str
    type: Type = Type.STRING
    _: KW_ONLY
    multi_valued: bool = False
    description: str = ""
    required: bool = False
    case_exact: bool = False
    mutability: Mutability = Mutability.READ_WRITE
    returned: Returned = Returned.DEFAULT
    uniqueness: Uniqueness = Uniqueness.NONE
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()
    # The database column that mirrors this attribute, where there is one; filters and sorting
    # on it run against the column instead of the JSON document. A multi-valued attribute's
    # column holds its main value (`main_value`), for display; filters use its value rows.
    column: str | None = None
    # The indexes on `column` (`Index`).
    indexes: tuple[Index, ...] = ()
    # The rows its values are kept in (`Rows`), if any.
    rows: Rows | None = None
    # Worked out when the resource is read, never stored, so never filtered or sorted on (a
    # member's `display` and `$ref`).
    derived: bool = False
    # For an attribute whose values are references worked out from rows (`Rows.MEMBERS`,
    # `Rows.MEMBERSHIPS`): the resource types its values are (a user's `groups` are Groups).
    references: tuple[str, ...] = ()
    # For a sub-attribute of such an attribute: the attribute of the referenced resource whose
    # value it shows (a user's `groups[].display` is the group's `displayName`). Filters on it
    # are compiled against that attribute, and a change of that attribute moves the versions
    # of the resources that show it (`shown_attributes`).
    shows: str | None = None
    # The attribute that names a resource in change records and events (`userName`, a group's
    # `displayName`): one core attribute per resource type (`ResourceType.name_attribute`).
    names_resource: bool = False
    # The longest string accepted, in characters. Values kept in btree indexes need one: an
    # index entry holds at most 2704 bytes, and 512 characters of UTF-8 fit in 2048.
    max_length: int | None = None
    # The most values a multi-valued attribute kept in the document may hold: each value is a
    # row to index and a value to compare on PATCH. (Group members are rows, without bound.)
    max_values: int | None = None
    _by_name: dict[str, Attribute] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {sub.name.lower(): sub for sub in self.sub_attributes}
        object.__setattr__(self, "_by_name", by_name)
        if self.indexes and self.column is None:
            raise ValueError(f"'{self.name}' declares indexes but no column to put them on.")
        # A btree entry holds at most 2704 bytes: an unbounded value would fail in the database
        # instead of being refused with a 400. (A multi-valued attribute's column holds its
        # main `value`.)
        bounded = by_name.get("value", self)
        if {Index.LOOKUP, Index.SORTED} & set(self.indexes) and bounded.max_length is None:
            raise ValueError(f"'{self.name}' has a btree index but no max_length.")

    @property
    def is_complex(self) -> bool:
        return self.type is Type.COMPLEX

    @property
    def is_read_only(self) -> bool:
        return self.mutability is Mutability.READ_ONLY

    def sub_attribute(self, name: str) -> Attribute | None:
        """Return the sub-attribute called `name`; names are case-insensitive (RFC 7643 §2.1)."""
        return self._by_name.get(name.lower())

    def to_scim(self) -> dict:
        """Return the attribute's representation for the `/Schemas` endpoint (RFC 7643 §7)."""
        rep: dict = {
            "name": self.name,
            "type": self.type.value,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability.value,
            "returned": self.returned.value,
            "uniqueness": self.uniqueness.value,
        }
        if self.canonical_values:
            rep["canonicalValues"] = list(self.canonical_values)
        if self.type is Type.REFERENCE:
            rep["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            rep["subAttributes"] = [sub.to_scim() for sub in self.sub_attributes]
        return rep


@dataclass(frozen=True)
class Schema:
    """A schema (RFC 7643 §7): its URN, name and attributes."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    _by_name: dict[str, Attribute] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {a.name.lower(): a for a in self.attributes})

    def attribute(self, name: str) -> Attribute | None:
        """Return the top-level attribute called `name`, case-insensitively."""
        return self._by_name.get(name.lower())

    def to_scim(self, base_url: str) -> dict:
        """Return the schema as a `/Schemas` resource (RFC 7643 §7)."""
        return {
            "schemas": [SCHEMA_SCHEMA_URN],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [a.to_scim() for a in self.attributes],
            "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{self.id}"},
        }


@dataclass(frozen=True)
class Mirror:
    """An attribute that a column mirrors, and where the document holds it."""

    attribute: Attribute
    # Its keys in the document: ("userName",), ("name", "givenName"), (extension URN, name).
    path: tuple[str, ...]
    # Whether the resource's own schemas declare it (else it is common to every resource).
    own: bool = True

    @property
    def column(self) -> str:
        return self.attribute.column

    @property
    def written_by_client(self) -> bool:
        """Whether the document holds it; the server sets read-only ones (`id`, `meta`)."""
        return not self.attribute.is_read_only

    def value(self, document: dict):
        """Return the column's value for `document`: the attribute's, or for a multi-valued
        attribute its main value (`main_value`)."""
        value = document
        for key in self.path:
            value = value.get(key) if isinstance(value, dict) else None
        if self.attribute.multi_valued:
            return main_value(value) if isinstance(value, list) else None
        return value


def main_value(values: list) -> object:
    """Return the `value` of the primary value of a multi-valued attribute, else of its "work"
    one, else of the first (the one an IdP shows when it shows one)."""
    for wanted in (lambda v: v.get("primary") is True, lambda v: v.get("type") == "work", bool):
        for item in values:
            if isinstance(item, dict) and "value" in item and wanted(item):
                return item["value"]
    return None


@dataclass(frozen=True)
class SchemaExtension:
    schema: Schema
    required: bool = False


# Compared by identity: there is one of each, and hashing the whole schema tree on every
# lookup keyed by a resource type would cost more than the lookup.
@dataclass(frozen=True, eq=False)
class ResourceType:
    """A resource type (RFC 7643 §6): its endpoint, core schema and schema extensions."""

    id: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[SchemaExtension, ...] = ()
    # Worked out once from the schema table: the attributes columns mirror, and the
    # attributes kept in rows, by kind of rows.
    mirrors: tuple[Mirror, ...] = field(init=False, repr=False)
    _rows: dict[Rows, tuple[Attribute, ...]] = field(init=False, repr=False)
    # The core attribute that names a resource in change records and events (`names_resource`).
    name_attribute: Attribute | None = field(init=False, repr=False)
    # The names of the attributes kept only as rows, never in the document (`members`): every
    # PATCH is read with them.
    row_attributes: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        naming = [attr for attr in self.schema.attributes if attr.names_resource]
        if len(naming) > 1:
            raise ValueError(f"'{self.id}' has more than one attribute that names a resource.")
        object.__setattr__(self, "name_attribute", naming[0] if naming else None)
        mirrors = [_mirror(attr, (), own=False) for attr in COMMON_ATTRIBUTES.values()]
        rows: dict[Rows, list[Attribute]] = {}
        for schema in self.schemas:
            prefix = () if schema is self.schema else (schema.id,)
            mirrors += [_mirror(attr, prefix) for attr in schema.attributes]
            for attr in schema.attributes:
                if attr.rows is not None:
                    rows.setdefault(attr.rows, []).append(attr)
        object.__setattr__(self, "mirrors", tuple(m for found in mirrors for m in found))
        object.__setattr__(self, "_rows", {kind: tuple(found) for kind, found in rows.items()})
        members = self.kept_in(Rows.MEMBERS)
        object.__setattr__(self, "row_attributes", frozenset(attr.name for attr in members))

    @property
    def name(self) -> str:
        return self.id

    def kept_in(self, rows: Rows) -> tuple[Attribute, ...]:
        """Return the attributes whose values are kept in `rows`."""
        return self._rows.get(rows, ())

    @property
    def schemas(self) -> tuple[Schema, ...]:
        return (self.schema, *(ext.schema for ext in self.extensions))

    def extension(self, urn: str) -> Schema | None:
        """Return the extension schema whose URN is `urn`; URNs compare case-insensitively."""
        for ext in self.extensions:
            if ext.schema.id.lower() == urn.lower():
                return ext.schema
        return None

    def schema_for(self, urn: str) -> Schema | None:
        """Return the core or extension schema whose URN is `urn`."""
        if urn.lower() == self.schema.id.lower():
            return self.schema
        return self.extension(urn)

    def attribute(self, name: str, schema_urn: str | None = None) -> Attribute | None:
        """Return the attribute `name`, looked up in `schema_urn` or else in the core schema.

        The common attributes `id`, `externalId` and `meta` (RFC 7643 §3.1) belong to every
        resource type and are found whatever core URN qualifies them.
        """
        if schema_urn is not None:
            schema = self.schema_for(schema_urn)
            if schema is None:
                return None
            if schema is not self.schema:
                return schema.attribute(name)
        return COMMON_ATTRIBUTES.get(name.lower()) or self.schema.attribute(name)

    def resolve(self, name: str, schema_urn: str | None = None) -> tuple[Schema, Attribute] | None:
        """Return the schema and definition of the top-level attribute an attribute path
        names, or None: the one rule of filters, PATCH paths, `attributes` and `sortBy`.

        RFC 7644 §3.10: an attribute is identified by its schema URN and name, and "clients
        MAY omit core schema attribute URIs". So a qualified name is looked up in the schema
        its URN names (the common attributes `id`, `externalId` and `meta` under the core
        URN, RFC 7643 §3.1), and an unqualified name in the core schema first. An unqualified
        name the core schema lacks names the attribute of the one extension that defines it
        (§3.10 asks clients to qualify extension attributes, but IdPs send `employeeNumber`
        alone); when several extensions define it, it is ambiguous and names nothing.
        """
        if schema_urn is not None:
            schema = self.schema_for(schema_urn)
            attr = self.attribute(name, schema_urn) if schema is not None else None
            return (schema, attr) if attr is not None else None
        attr = self.attribute(name)
        if attr is not None:
            return self.schema, attr
        found = [
            (ext.schema, ext_attr)
            for ext in self.extensions
            if (ext_attr := ext.schema.attribute(name)) is not None
        ]
        return found[0] if len(found) == 1 else None

    def to_scim(self, base_url: str) -> dict:
        """Return the resource type as a `/ResourceTypes` resource (RFC 7643 §6)."""
        rep = {
            "schemas": [RESOURCE_TYPE_SCHEMA_URN],
            "id": self.id,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{base_url}/ResourceTypes/{self.id}",
            },
        }
        if self.extensions:
            rep["schemaExtensions"] = [
                {"schema": ext.schema.id, "required": ext.required} for ext in self.extensions
            ]
        return rep


def _mirror(attr: Attribute, prefix: tuple[str, ...], own: bool = True) -> list[Mirror]:
    """Return the mirrors of `attr` and of its sub-attributes."""
    found = [Mirror(attr, (*prefix, attr.name), own)] if attr.column else []
    found += [
        Mirror(sub, (*prefix, attr.name, sub.name), own)
        for sub in attr.sub_attributes
        if sub.column
    ]
    return found


# Short constructors keep the tables below readable. Defaults are RFC 7643 §2.2's.
def _string(name: str, description: str = "", **kw) -> Attribute:
    return Attribute(name, Type.STRING, description=description, **kw)


def _bool(name: str, description: str = "", **kw) -> Attribute:
    return Attribute(name, Type.BOOLEAN, description=description, **kw)


def _ref(name: str, reference_types: tuple[str, ...], description: str = "", **kw) -> Attribute:
    return Attribute(
        name, Type.REFERENCE, description=description, reference_types=reference_types, **kw
    )


def _complex(name: str, subs: tuple[Attribute, ...], description: str = "", **kw) -> Attribute:
    return Attribute(name, Type.COMPLEX, description=description, sub_attributes=subs, **kw)


def _multi_valued(
    name: str,
    description: str,
    types: tuple[str, ...],
    value: Attribute | None = None,
    **kw,
) -> Attribute:
    """Return a multi-valued complex attribute with RFC 7643 §2.4's default sub-attributes,
    each value kept as a row too (`Rows.VALUES`)."""
    return _complex(
        name,
        (
            # Values of multi-valued attributes are indexed (UserValue) for filtering.
            value
            or _string("value", f"The value of the {name} entry.", max_length=INDEXED_MAX_LENGTH),
            _string("display", "A human-readable name, primarily used for display purposes."),
            _string("type", "A label indicating the attribute's function.", canonical_values=types),
            _bool("primary", "Whether this value is the preferred one; true at most once."),
        ),
        description,
        multi_valued=True,
        max_values=DOCUMENT_MAX_VALUES,
        rows=Rows.VALUES,
        **kw,
    )


USER_SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_SCHEMA_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SERVICE_PROVIDER_CONFIG_SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"
LIST_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

_READ_ONLY = Mutability.READ_ONLY
_LOOKUP_AND_SUBSTRING = (Index.LOOKUP, Index.SUBSTRING)
# A trigram index alone. Attributes unique case-insensitively per tenant need no lookup index of
# their own: their unique constraint's index on (tenant, lower(column)) serves eq and sortBy
# (models.py).
_SUBSTRING = (Index.SUBSTRING,)
INDEXED_MAX_LENGTH = 512
DOCUMENT_MAX_VALUES = 1000

# RFC 7643 §3.1: attributes of every resource, not listed in the resource's own schema.
COMMON_ATTRIBUTES: dict[str, Attribute] = {
    a.name.lower(): a
    for a in (
        _string(
            "id",
            "A unique identifier for the resource, assigned by the service provider.",
            case_exact=True,
            mutability=_READ_ONLY,
            returned=Returned.ALWAYS,
            uniqueness=Uniqueness.SERVER,
            column="id",
        ),
        _string(
            "externalId",
            "An identifier for the resource as defined by the provisioning client.",
            case_exact=True,
            column="external_id",
            indexes=_LOOKUP_AND_SUBSTRING,
            max_length=INDEXED_MAX_LENGTH,
        ),
        _complex(
            "meta",
            (
                _string(
                    "resourceType",
                    "The name of the resource type.",
                    case_exact=True,
                    mutability=_READ_ONLY,
                ),
                Attribute(
                    "created",
                    Type.DATETIME,
                    description="When the resource was added.",
                    mutability=_READ_ONLY,
                    # Its index is the default list order's, (tenant, created, id): models.py.
                    column="created",
                ),
                Attribute(
                    "lastModified",
                    Type.DATETIME,
                    description="When the resource was last changed.",
                    mutability=_READ_ONLY,
                    column="last_modified",
                ),
                _ref(
                    "location",
                    ("uri",),
                    "The URI of the resource.",
                    case_exact=True,
                    mutability=_READ_ONLY,
                ),
                _string(
                    "version",
                    "The version (entity tag) of the resource.",
                    case_exact=True,
                    mutability=_READ_ONLY,
                ),
            ),
            "Resource metadata.",
            mutability=_READ_ONLY,
        ),
    )
}

USER_SCHEMA = Schema(
    USER_SCHEMA_URN,
    "User",
    "User Account",
    (
        _string(
            "userName",
            "Unique identifier for the User, used to authenticate; unique case-insensitively.",
            required=True,
            uniqueness=Uniqueness.SERVER,
            column="user_name",
            indexes=_SUBSTRING,
            max_length=INDEXED_MAX_LENGTH,
            names_resource=True,
        ),
        _complex(
            "name",
            (
                _string("formatted", "The full name, formatted for display."),
                _string(
                    "familyName",
                    "The family name of the User.",
                    column="family_name",
                    indexes=_SUBSTRING,
                ),
                _string(
                    "givenName",
                    "The given name of the User.",
                    column="given_name",
                    indexes=_SUBSTRING,
                ),
                _string("middleName", "The middle name(s) of the User."),
                _string("honorificPrefix", "The honorific prefix(es) of the User."),
                _string("honorificSuffix", "The honorific suffix(es) of the User."),
            ),
            "The components of the user's real name.",
        ),
        _string(
            "displayName",
            "The name of the User, suitable for display.",
            column="display_name",
            indexes=_LOOKUP_AND_SUBSTRING,
            max_length=INDEXED_MAX_LENGTH,
        ),
        _string("nickName", "The casual way to address the user."),
        _ref("profileUrl", ("external",), "A URI pointing to the User's online profile."),
        _string("title", "The user's title, such as 'Vice President'."),
        _string("userType", "The relationship between the organization and the user."),
        _string("preferredLanguage", "The User's preferred written or spoken language."),
        _string("locale", "The User's default location, for localizing items."),
        _string("timezone", "The User's time zone in the IANA Time Zone database format."),
        _bool("active", "The User's administrative status.", column="active"),
        _string(
            "password",
            "The User's cleartext password; accepted on write, never returned.",
            mutability=Mutability.WRITE_ONLY,
            returned=Returned.NEVER,
        ),
        _multi_valued(
            "emails",
            "Email addresses for the user.",
            ("work", "home", "other"),
            # The main email, for display and the admin's search; filters use the value rows.
            column="email",
            indexes=_LOOKUP_AND_SUBSTRING,
        ),
        _multi_valued(
            "phoneNumbers",
            "Phone numbers for the User.",
            ("work", "home", "mobile", "fax", "pager", "other"),
        ),
        _multi_valued(
            "ims",
            "Instant messaging addresses for the User.",
            ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
        ),
        _multi_valued(
            "photos",
            "URLs of photos of the User.",
            ("photo", "thumbnail"),
            value=_ref("value", ("external",), "The URL of a photo of the User."),
        ),
        _complex(
            "addresses",
            (
                _string("formatted", "The full mailing address, formatted for display."),
                _string("streetAddress", "The full street address component."),
                _string("locality", "The city or locality component."),
                _string("region", "The state or region component."),
                _string("postalCode", "The zip code or postal code component."),
                _string("country", "The country name component."),
                _string(
                    "type",
                    "A label indicating the attribute's function.",
                    canonical_values=("work", "home", "other"),
                ),
                _bool("primary", "Whether this is the preferred mailing address."),
            ),
            "A physical mailing address for this User.",
            multi_valued=True,
            max_values=DOCUMENT_MAX_VALUES,
            rows=Rows.VALUES,
        ),
        _complex(
            "groups",
            (
                _string(
                    "value",
                    "The identifier of the User's group.",
                    mutability=_READ_ONLY,
                    shows="id",
                ),
                _ref("$ref", ("User", "Group"), "The URI of the group.", mutability=_READ_ONLY),
                _string(
                    "display",
                    "A human-readable name of the group.",
                    mutability=_READ_ONLY,
                    shows="displayName",
                ),
                _string(
                    "type",
                    "How the membership was derived.",
                    canonical_values=("direct", "indirect"),
                    mutability=_READ_ONLY,
                ),
            ),
            "The groups the user belongs to, directly or indirectly.",
            multi_valued=True,
            mutability=_READ_ONLY,
            rows=Rows.MEMBERSHIPS,
            references=("Group",),
        ),
        _multi_valued("entitlements", "A list of entitlements for the User.", ()),
        _multi_valued("roles", "A list of roles for the User.", ()),
        _multi_valued(
            "x509Certificates",
            "A list of certificates issued to the User.",
            (),
            value=Attribute("value", Type.BINARY, description="The DER-encoded X.509 certificate."),
        ),
    ),
)

ENTERPRISE_USER_SCHEMA = Schema(
    ENTERPRISE_USER_SCHEMA_URN,
    "EnterpriseUser",
    "Enterprise User",
    (
        # IdPs look users up by it (Entra's matching attribute can be set to it).
        _string(
            "employeeNumber",
            "A string identifier, typically numeric or alphanumeric.",
            column="employee_number",
            indexes=(Index.SORTED, Index.SUBSTRING),
            max_length=INDEXED_MAX_LENGTH,
        ),
        _string("costCenter", "Identifies the name of a cost center."),
        _string("organization", "Identifies the name of an organization."),
        _string("division", "Identifies the name of a division."),
        _string("department", "Identifies the name of a department."),
        _complex(
            "manager",
            (
                _string("value", "The id of the SCIM resource representing the manager."),
                _ref("$ref", ("User",), "The URI of the SCIM resource representing the manager."),
                _string("displayName", "The displayName of the manager.", mutability=_READ_ONLY),
            ),
            "The User's manager.",
        ),
    ),
)

USER_RESOURCE_TYPE = ResourceType(
    "User",
    "/Users",
    "User Account",
    USER_SCHEMA,
    (SchemaExtension(ENTERPRISE_USER_SCHEMA, required=False),),
)

GROUP_SCHEMA = Schema(
    GROUP_SCHEMA_URN,
    "Group",
    "Group",
    (
        _string(
            "displayName",
            "A human-readable name for the Group; unique case-insensitively.",
            required=True,
            uniqueness=Uniqueness.SERVER,
            column="display_name",
            indexes=_SUBSTRING,
            max_length=INDEXED_MAX_LENGTH,
            names_resource=True,
        ),
        _complex(
            "members",
            (
                _string(
                    "value", "The id of a member.", required=True, mutability=Mutability.IMMUTABLE
                ),
                _ref(
                    "$ref",
                    ("User", "Group"),
                    "The URI of the member.",
                    mutability=Mutability.IMMUTABLE,
                    derived=True,
                ),
                _string(
                    "type",
                    "The type of the member.",
                    canonical_values=("User", "Group"),
                    mutability=Mutability.IMMUTABLE,
                ),
                _string(
                    "display",
                    "The member's display name.",
                    mutability=_READ_ONLY,
                    derived=True,
                    shows="displayName",
                ),
            ),
            "A list of members of the Group: Users or Groups.",
            multi_valued=True,
            rows=Rows.MEMBERS,
            references=("User", "Group"),
        ),
    ),
)

GROUP_RESOURCE_TYPE = ResourceType("Group", "/Groups", "Group", GROUP_SCHEMA)

RESOURCE_TYPES: tuple[ResourceType, ...] = (USER_RESOURCE_TYPE, GROUP_RESOURCE_TYPE)


def shown_attributes(
    resource_type: ResourceType, among: tuple[ResourceType, ...] = RESOURCE_TYPES
) -> tuple[Mirror, ...]:
    """Return the mirrors of the attributes of `resource_type` that references to its
    resources show, in resources of the types `among` (`references`, `shows`): a group's
    `displayName` in its users' `groups[].display` (RFC 7643 §4.1.2) and in the
    `members[].display` of the groups holding it (§4.2). A change of one changes what those
    resources show, so it moves their versions too. Attributes that never change once the
    resource exists (`id`) are left out.

    A shown attribute is read from its column when the references are read, so it must have
    one.
    """
    names = {
        sub.shows.lower(): sub.shows
        for other in among
        for schema in other.schemas
        for attr in schema.attributes
        if resource_type.id in attr.references
        for sub in attr.sub_attributes
        if sub.shows is not None
    }
    shown = []
    for name in sorted(names.values()):
        found = resource_type.resolve(name)
        if found is None:
            raise ValueError(f"References show '{name}', which {resource_type.id} lacks.")
        attr = found[1]
        if attr.mutability in (Mutability.READ_ONLY, Mutability.IMMUTABLE):
            continue
        mirror = next((m for m in resource_type.mirrors if m.attribute is attr), None)
        if mirror is None:
            raise ValueError(f"References show '{name}', which has no column to read it from.")
        shown.append(mirror)
    return tuple(shown)


def shown_column(attr: Attribute, sub_name: str, referenced: ResourceType) -> str:
    """Return the column that a reference's sub-attribute shows, read from the referenced
    resource's row: `members.display` of a user is the user's `displayName` column (`shows`).
    """
    sub = next(s for s in attr.sub_attributes if s.name == sub_name)
    if sub.shows is None or referenced.id not in attr.references:
        raise ValueError(f"'{attr.name}.{sub_name}' shows nothing of a {referenced.id}.")
    found = referenced.resolve(sub.shows)
    if found is None or found[1].column is None:
        raise ValueError(f"'{attr.name}.{sub_name}' shows '{sub.shows}', which has no column.")
    return found[1].column


def _authentication_scheme_attrs() -> tuple[Attribute, ...]:
    return (
        _string(
            "type",
            "The authentication scheme.",
            required=True,
            mutability=_READ_ONLY,
            canonical_values=("oauth", "oauth2", "oauthbearertoken", "httpbasic", "httpdigest"),
        ),
        _string(
            "name", "The common authentication scheme name.", required=True, mutability=_READ_ONLY
        ),
        _string(
            "description",
            "A description of the authentication scheme.",
            required=True,
            mutability=_READ_ONLY,
        ),
        _ref("specUri", ("external",), "The specification of the scheme.", mutability=_READ_ONLY),
        _ref(
            "documentationUri",
            ("external",),
            "The documentation of the scheme.",
            mutability=_READ_ONLY,
        ),
        _bool("primary", "Whether this is the preferred scheme.", mutability=_READ_ONLY),
    )


def _supported(name: str, description: str, *extra: Attribute) -> Attribute:
    return _complex(
        name,
        (
            _bool(
                "supported",
                "Whether the operation is supported.",
                required=True,
                mutability=_READ_ONLY,
            ),
            *extra,
        ),
        description,
        required=True,
        mutability=_READ_ONLY,
    )


def _integer(name: str, description: str) -> Attribute:
    return Attribute(
        name, Type.INTEGER, description=description, required=True, mutability=_READ_ONLY
    )


SERVICE_PROVIDER_CONFIG_SCHEMA = Schema(
    SERVICE_PROVIDER_CONFIG_SCHEMA_URN,
    # RFC 7643 §8.7.2 writes "Service Provider Configuration"; clients (scim2-tester among them)
    # look the schema up by the resource name, as for "ResourceType" and "Schema".
    "ServiceProviderConfig",
    "Schema for representing the service provider's configuration",
    (
        _ref(
            "documentationUri",
            ("external",),
            "The service provider's help documentation.",
            mutability=_READ_ONLY,
        ),
        _supported("patch", "PATCH configuration options."),
        _supported(
            "bulk",
            "Bulk configuration options.",
            _integer("maxOperations", "The maximum number of operations."),
            _integer("maxPayloadSize", "The maximum payload size in bytes."),
        ),
        _supported(
            "filter",
            "Filter configuration options.",
            _integer("maxResults", "The maximum number of resources returned in a response."),
        ),
        _supported("changePassword", "Change password configuration options."),
        _supported("sort", "Sort configuration options."),
        _supported("etag", "ETag configuration options."),
        # RFC 9865 §4.
        _complex(
            "pagination",
            (
                _bool(
                    "cursor",
                    "Whether cursor-based pagination is supported.",
                    required=True,
                    mutability=_READ_ONLY,
                ),
                _bool(
                    "index",
                    "Whether index-based pagination is supported.",
                    required=True,
                    mutability=_READ_ONLY,
                ),
                _string(
                    "defaultPaginationMethod",
                    "The pagination used when a request names none.",
                    canonical_values=("cursor", "index"),
                    mutability=_READ_ONLY,
                ),
                Attribute(
                    "defaultPageSize",
                    Type.INTEGER,
                    mutability=_READ_ONLY,
                    description="Results in a page when a request gives no count.",
                ),
                Attribute(
                    "maxPageSize",
                    Type.INTEGER,
                    mutability=_READ_ONLY,
                    description="The most results a page holds, whatever the count.",
                ),
                Attribute(
                    "cursorTimeout",
                    Type.INTEGER,
                    mutability=_READ_ONLY,
                    description="Seconds a cursor stays valid between page requests.",
                ),
            ),
            "Pagination configuration options.",
            mutability=_READ_ONLY,
        ),
        _complex(
            "authenticationSchemes",
            _authentication_scheme_attrs(),
            "Supported authentication scheme properties.",
            multi_valued=True,
            required=True,
            mutability=_READ_ONLY,
        ),
    ),
)

RESOURCE_TYPE_SCHEMA = Schema(
    RESOURCE_TYPE_SCHEMA_URN,
    "ResourceType",
    "Specifies the schema that describes a SCIM resource type",
    (
        _string("id", "The resource type's server unique id.", mutability=_READ_ONLY),
        _string("name", "The resource type name.", required=True, mutability=_READ_ONLY),
        _string(
            "description", "The resource type's human-readable description.", mutability=_READ_ONLY
        ),
        _ref(
            "endpoint",
            ("uri",),
            "The resource type's HTTP-addressable endpoint.",
            required=True,
            mutability=_READ_ONLY,
        ),
        _ref(
            "schema",
            ("uri",),
            "The resource type's primary/base schema URI.",
            required=True,
            case_exact=True,
            mutability=_READ_ONLY,
        ),
        _complex(
            "schemaExtensions",
            (
                _ref(
                    "schema",
                    ("uri",),
                    "The URI of a schema extension.",
                    required=True,
                    case_exact=True,
                    mutability=_READ_ONLY,
                ),
                _bool(
                    "required",
                    "Whether resources must include the extension.",
                    required=True,
                    mutability=_READ_ONLY,
                ),
            ),
            "A list of URIs of the resource type's schema extensions.",
            multi_valued=True,
            mutability=_READ_ONLY,
        ),
    ),
)


def _attribute_definition_attrs(nested: bool) -> tuple[Attribute, ...]:
    """Return the sub-attributes that describe an attribute in the Schema schema (§7)."""
    attrs = [
        _string(
            "name", "The attribute's name.", required=True, case_exact=True, mutability=_READ_ONLY
        ),
        _string(
            "type",
            "The attribute's data type.",
            required=True,
            mutability=_READ_ONLY,
            canonical_values=tuple(t.value for t in Type),
        ),
        _bool(
            "multiValued",
            "Whether the attribute is multi-valued.",
            required=True,
            mutability=_READ_ONLY,
        ),
        _string(
            "description",
            "A human-readable description of the attribute.",
            case_exact=True,
            mutability=_READ_ONLY,
        ),
        _bool("required", "Whether the attribute is required.", mutability=_READ_ONLY),
        _string(
            "canonicalValues",
            "A collection of suggested canonical values.",
            multi_valued=True,
            case_exact=True,
            mutability=_READ_ONLY,
        ),
        _bool("caseExact", "Whether a string attribute is case sensitive.", mutability=_READ_ONLY),
        _string(
            "mutability",
            "Whether the attribute is modifiable.",
            case_exact=True,
            mutability=_READ_ONLY,
            canonical_values=tuple(m.value for m in Mutability),
        ),
        _string(
            "returned",
            "When the attribute is returned in a response.",
            case_exact=True,
            mutability=_READ_ONLY,
            canonical_values=tuple(r.value for r in Returned),
        ),
        _string(
            "uniqueness",
            "How the service provider enforces uniqueness.",
            case_exact=True,
            mutability=_READ_ONLY,
            canonical_values=tuple(u.value for u in Uniqueness),
        ),
        _string(
            "referenceTypes",
            "The resource types that a reference may refer to.",
            multi_valued=True,
            case_exact=True,
            mutability=_READ_ONLY,
        ),
    ]
    if not nested:
        attrs.append(
            _complex(
                "subAttributes",
                _attribute_definition_attrs(nested=True),
                "The sub-attributes of a complex attribute.",
                multi_valued=True,
                mutability=_READ_ONLY,
            )
        )
    return tuple(attrs)


SCHEMA_SCHEMA = Schema(
    SCHEMA_SCHEMA_URN,
    "Schema",
    "Specifies the schema attributes of a SCIM resource",
    (
        _string("id", "The unique URI of the schema.", required=True, mutability=_READ_ONLY),
        _string("name", "The schema's human-readable name.", mutability=_READ_ONLY),
        _string("description", "The schema's human-readable description.", mutability=_READ_ONLY),
        _complex(
            "attributes",
            _attribute_definition_attrs(nested=False),
            "The service provider's attributes for this schema.",
            multi_valued=True,
            required=True,
            mutability=_READ_ONLY,
        ),
    ),
)

# Every schema published at /Schemas: the resources' schemas, then RFC 7643 §8.7.2's.
SCHEMAS: tuple[Schema, ...] = (
    *dict.fromkeys(s for rt in RESOURCE_TYPES for s in rt.schemas),
    SERVICE_PROVIDER_CONFIG_SCHEMA,
    RESOURCE_TYPE_SCHEMA,
    SCHEMA_SCHEMA,
)
