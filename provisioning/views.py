"""The SCIM HTTP endpoints. Views stay thin: they read the request, call the storage layer and
the pure SCIM modules, and render; every error is raised and answered in one place,
`provisioning.http.Endpoint.dispatch`."""

from __future__ import annotations

import functools

from django.http import StreamingHttpResponse
from django.urls import get_script_prefix
from django.utils.encoding import iri_to_uri

from . import app_settings, bulk, search, streaming
from .http import Endpoint, json_bytes, read_json, respond
from .resources import Resource
from .scim import dialect, discovery, errors
from .scim.bulk import parse_bulk_request
from .scim.list_request import ListRequest, read_list_request, search_body
from .scim.projection import Projection
from .scim.resource import (
    ANY,
    Meta,
    entity_tags,
    expected_versions,
    format_version,
    render_references,
    render_resource,
)
from .scim.schema import ResourceType
from .storage.common import Written
from .storage.store import MemberStore, Store

BASE_PATH = "scim/v2"


def base_url(request) -> str:
    """Return the absolute URL of the SCIM service root, e.g. `https://host/scim/v2`.

    It is worked out once per request: a list page needs it for every resource's location.
    """
    if not hasattr(request, "scim_base_url"):
        # The host SCIMRouteMiddleware checked, rather than checking it again.
        host = getattr(request, "scim_host", None) or request.get_host()
        request.scim_base_url = _base_url(request.scheme, host, get_script_prefix())
    return request.scim_base_url


@functools.lru_cache(maxsize=64)
def _base_url(scheme: str, host: str, script_prefix: str) -> str:
    """What build_absolute_uri makes of the service root's path, without its general case."""
    return f"{scheme}://{host}{iri_to_uri(script_prefix)}{BASE_PATH}"


def ok(request, body, status: int = 200, headers: dict | None = None):
    """Return a response with `body` in the media type the request negotiated."""
    return respond(body, status, headers, request.scim_media_type)


# The settings that /ServiceProviderConfig advertises.
ADVERTISED_SETTINGS = (
    "MAX_RESULTS",
    "DEFAULT_COUNT",
    "BULK_MAX_OPERATIONS",
    "BULK_MAX_PAYLOAD_BYTES",
)


class DiscoveryView(Endpoint):
    """Base for the discovery endpoints, which take GET only (RFC 7644 §4).

    Their documents depend on the schema table, the settings and the base URL alone, so each
    is rendered once per base URL and process.
    """

    def __init__(self, **attributes) -> None:
        super().__init__(**attributes)
        self.rendered: dict[tuple, bytes] = {}

    def get(self, request, item_id=None):
        # RFC 7644 §4: a filter on these endpoints SHOULD be refused with 403, so a client
        # cannot believe the results matched it.
        if "filter" in request.GET:
            raise errors.Forbidden("Filtering is not supported on discovery endpoints.")
        # Everything the documents are built from: the settings they advertise, and the URL.
        settings = tuple(app_settings.get(name) for name in ADVERTISED_SETTINGS)
        key = (base_url(request), item_id, settings)
        body = self.rendered.get(key)
        if body is None:
            body = self.rendered[key] = json_bytes(self.document(base_url(request), item_id))
        return ok(request, body)


class ServiceProviderConfigView(DiscoveryView):
    def document(self, base: str, item_id: None) -> dict:
        return discovery.service_provider_config(
            base,
            max_results=app_settings.get("MAX_RESULTS"),
            default_count=app_settings.get("DEFAULT_COUNT"),
            bulk_max_operations=app_settings.get("BULK_MAX_OPERATIONS"),
            bulk_max_payload_size=app_settings.get("BULK_MAX_PAYLOAD_BYTES"),
        )


class DiscoveryCollectionView(DiscoveryView):
    """`/ResourceTypes` and `/Schemas`: a ListResponse of all, or one by its id (RFC 7644 §4)."""

    items: tuple = ()
    noun = ""

    def document(self, base: str, item_id: str | None) -> dict:
        if item_id is None:
            reps = [item.to_scim(base) for item in self.items]
            return discovery.list_response(reps, total=len(reps), start_index=1)
        for item in self.items:
            # Schema URNs compare case-insensitively; resource type names are matched alike.
            if item.id.lower() == item_id.lower():
                return item.to_scim(base)
        raise errors.NotFound(f"{self.noun} '{item_id}' not found.")


def render_many(
    request, resource_type, store, objs, projection: Projection, related: dict | None = None
) -> list[dict]:
    """Render resources, reading their related attributes (members, groups) in one go unless
    the caller knows them."""
    base = base_url(request)
    if related is None:
        related = store.related(request.token.tenant, objs, projection.needs)
    location = f"{base}{resource_type.endpoint}/"
    return [
        projection.apply(
            render_resource(
                resource_type,
                str(obj.pk),
                obj.data,
                Meta(obj.created, obj.last_modified, obj.version, f"{location}{obj.pk}"),
                render_references(base, related.get(obj.pk, {})),
            )
        )
        for obj in objs
    ]


def leniencies(request, patch_body=None) -> frozenset[dialect.Leniency]:
    """Return the IdP leniencies the request's connection reads it with (`scim/dialect.py`):
    the tenant's dialect, arrived with the token's row, and for `auto` the request's signs."""
    return dialect.leniencies(
        request.token.tenant.dialect,
        request.META.get("HTTP_USER_AGENT", ""),
        request.GET,
        patch_body,
    )


def list_answer(request, resources: list[dict], page):
    """Return the ListResponse of a page of rendered resources (RFC 7644 §3.4.2, RFC 9865)."""
    return ok(
        request,
        discovery.list_response(
            resources,
            total=page.total,
            start_index=page.start_index,
            next_cursor=page.next_cursor,
            previous_cursor=page.previous_cursor,
        ),
    )


def list_parameters(request, params, resource_types, from_body: bool) -> ListRequest:
    """Return the checked list parameters of a query string or a SearchRequest body
    (`scim/list_request.py`), paged by the app's settings, its filter read in the request's
    dialect."""
    return read_list_request(
        params,
        leniencies(request),
        resource_types,
        from_body=from_body,
        default_count=app_settings.get("DEFAULT_COUNT"),
        max_results=app_settings.get("MAX_RESULTS"),
    )


def projection_of(resource_type: ResourceType, params) -> Projection:
    """Return the `attributes`/`excludedAttributes` projection (RFC 7644 §3.4.2.5, §3.9)."""
    return Projection.from_params(
        resource_type, params.get("attributes"), params.get("excludedAttributes")
    )


class ResourceView(Endpoint):
    """Base for the views of one resource type, served by one storage module."""

    resource: Resource = None

    @property
    def resource_type(self) -> ResourceType:
        return self.resource.type

    @property
    def store(self) -> Store:
        return self.resource.store

    def location(self, request, obj) -> str:
        return f"{base_url(request)}{self.resource_type.endpoint}/{obj.pk}"

    def list_response(self, request, params, *, from_body: bool):
        list_request = list_parameters(request, params, (self.resource_type,), from_body)
        projection = projection_of(self.resource_type, params)
        page = self.store.search(request.token.tenant, list_request, projection.needs)
        resources = render_many(
            request, self.resource_type, self.store, page.items, projection, page.related
        )
        return list_answer(request, resources, page)

    def resource_response(self, request, obj, projection: Projection, related: dict | None):
        """Answer a GET with one resource and its entity tag (RFC 7644 §3.14); `related`: its
        related attributes when they were read with it."""
        related = None if related is None else {obj.pk: related}
        body = render_many(request, self.resource_type, self.store, [obj], projection, related)[0]
        return ok(request, body, headers={"ETag": format_version(obj.version)})

    def written_response(
        self,
        request,
        written: Written,
        projection: Projection,
        status: int = 200,
        headers: dict | None = None,
    ):
        """Answer a write with the resource as its transaction left it, and its entity tag:
        nothing is read after the write committed."""
        obj = written.obj
        related = {obj.pk: written.related}
        body = render_many(request, self.resource_type, self.store, [obj], projection, related)[0]
        return ok(request, body, status, {"ETag": format_version(obj.version), **(headers or {})})


class ResourceListView(ResourceView):
    """`GET` lists a resource type (RFC 7644 §3.4.2), `POST` creates one (§3.3)."""

    def get(self, request):
        return self.list_response(request, request.GET, from_body=False)

    def post(self, request):
        # Every parameter is checked before anything is written.
        projection = projection_of(self.resource_type, request.GET)
        written = self.resource.create(
            request.token.tenant,
            read_json(request),
            needs=projection.needs,
            leniencies=leniencies(request),
        )
        location = self.location(request, written.obj)
        return self.written_response(request, written, projection, 201, {"Location": location})


class ResourceSearchView(ResourceView):
    """`POST /{Resources}/.search`: a query whose parameters travel in the body (§3.4.3)."""

    def post(self, request):
        return self.list_response(request, search_body(read_json(request)), from_body=True)


class ResourceDetailView(ResourceView):
    """One resource: `GET` (RFC 7644 §3.4.1), `PUT` (§3.5.1), `PATCH` (§3.5.2), `DELETE`
    (§3.6), with entity tags: `If-None-Match` on GET, `If-Match` on writes (§3.14)."""

    def get(self, request, resource_id):
        projection = projection_of(self.resource_type, request.GET)
        obj, related = self.store.read(request.token.tenant, resource_id, projection.needs)
        tags = _entity_tags(request, "HTTP_IF_NONE_MATCH")
        if tags is not None and (tags == ANY or obj.version in tags):
            return respond(None, 304, {"ETag": format_version(obj.version)})
        return self.resource_response(request, obj, projection, related)

    def put(self, request, resource_id):
        projection = projection_of(self.resource_type, request.GET)
        written = self.resource.replace(
            request.token.tenant,
            resource_id,
            read_json(request),
            _expected(request),
            needs=projection.needs,
            leniencies=leniencies(request),
        )
        return self.written_response(request, written, projection)

    def patch(self, request, resource_id):
        projection = projection_of(self.resource_type, request.GET)
        body = read_json(request)
        read_with = leniencies(request, body)
        # RFC 7644 §3.5.2: 200 with the resource (subject to `attributes`), or 204.
        no_content = self.resource.patch_no_content and "attributes" not in request.GET
        written = self.resource.patch(
            request.token.tenant,
            resource_id,
            body,
            _expected(request),
            needs=None if no_content else projection.needs,
            leniencies=read_with,
        )
        if no_content:
            return respond(None, 204, {"ETag": format_version(written.obj.version)})
        return self.written_response(request, written, projection)

    def delete(self, request, resource_id):
        self.resource.delete(request.token.tenant, resource_id, _expected(request))
        return respond(None, 204)


class GroupDetailView(ResourceDetailView):
    """A Group: members are rows, changed by PATCH without reading the rest, and a GET
    streams them so that a group of any size is never held in memory twice."""

    resource: Resource[MemberStore] = None

    @property
    def store(self) -> MemberStore:
        return self.resource.store

    def get(self, request, resource_id):
        projection = projection_of(self.resource_type, request.GET)
        if not projection.needs(self.store.MEMBERS.name):
            return super().get(request, resource_id)
        # The group and its members from one snapshot: the body is the version its ETag names.
        obj, members = self.store.read_with_members(request.token.tenant, resource_id)
        tags = _entity_tags(request, "HTTP_IF_NONE_MATCH")
        if tags is not None and (tags == ANY or obj.version in tags):
            members.close()
            return respond(None, 304, {"ETag": format_version(obj.version)})
        try:
            return self.streamed_response(request, obj, members, projection)
        except BaseException:
            members.close()  # else its transaction would outlive the request
            raise

    def streamed_response(self, request, obj, members, projection: Projection):
        base = base_url(request)
        head = projection.apply(
            render_resource(
                self.resource_type,
                str(obj.pk),
                obj.data,
                Meta(obj.created, obj.last_modified, obj.version, self.location(request, obj)),
                {},
            )
        )
        members_name = self.store.MEMBERS.name
        kept = projection.kept_sub_attributes(members_name)
        response = StreamingHttpResponse(
            streaming.with_references(head, members_name, members, base, kept),
            content_type=request.scim_media_type,
        )
        response["ETag"] = format_version(obj.version)
        return response


class RootSearchView(Endpoint):
    """`POST /.search`: one query over every resource type (RFC 7644 §3.4.3), searched by
    `provisioning.search`."""

    resources: tuple[Resource, ...] = ()

    def post(self, request):
        params = search_body(read_json(request))
        list_request = list_parameters(
            request, params, [resource.type for resource in self.resources], True
        )
        search.check(self.resources, list_request)
        projections = [projection_of(resource.type, params) for resource in self.resources]
        page = search.across(request.token.tenant, self.resources, list_request)
        return list_answer(request, self.render(request, page.items, projections), page)

    def render(self, request, found: list, projections: list[Projection]) -> list[dict]:
        """Render a page of (type index, resource) pairs in its order, the resources of each
        type in one go."""
        bodies = [
            iter(
                render_many(
                    request,
                    resource.type,
                    resource.store,
                    [obj for kind, obj in found if kind == i],
                    projection,
                )
            )
            for i, (resource, projection) in enumerate(
                zip(self.resources, projections, strict=True)
            )
        ]
        return [next(bodies[kind]) for kind, _ in found]


def _entity_tags(request, header: str) -> frozenset[int] | str | None:
    """Return the versions an If-Match/If-None-Match header names, `ANY` for `*`, or None."""
    return entity_tags(request.META.get(header))


def _expected(request) -> frozenset[int] | None:
    """Return the versions If-Match allows a write to, or None when any will do."""
    return expected_versions(request.META.get("HTTP_IF_MATCH"))


class BulkView(Endpoint):
    """`POST /Bulk` (RFC 7644 §3.7): many operations in one request; see `provisioning.bulk`.

    Its body may be as large as `bulk.maxPayloadSize` and hold as many operations as
    `bulk.maxOperations`; beyond either, a 413 names the limit (RFC 7644 §3.7.4).
    """

    def post(self, request):
        body = read_json(request, app_settings.get("BULK_MAX_PAYLOAD_BYTES"))
        bulk_request = parse_bulk_request(
            body, endpoints=bulk.ENDPOINTS, max_operations=app_settings.get("BULK_MAX_OPERATIONS")
        )
        response = bulk.run(
            request.token.tenant,
            bulk_request,
            base_url(request),
            dialect.reader(
                request.token.tenant.dialect,
                request.META.get("HTTP_USER_AGENT", ""),
                request.GET,
            ),
        )
        return ok(request, response)


class NotImplementedView(Endpoint):
    """An endpoint of RFC 7644 the server does not offer: 501 (RFC 7644 §3.12)."""

    detail = "This endpoint is not supported."

    def handler(self, method: str):
        return self.fail

    def fail(self, request, *args, **kwargs):
        raise errors.NotImplementedByServer(self.detail)


class UnknownEndpointView(Endpoint):
    """Any other path under the SCIM root: a SCIM 404 whatever the method."""

    def handler(self, method: str):
        return self.fail

    def fail(self, request, *args, **kwargs):
        raise errors.NotFound(f"No SCIM endpoint at '{request.path}'.")
