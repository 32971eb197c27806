"""The SCIM HTTP endpoints. Views stay thin: they read the request, call the storage layer and
the pure SCIM modules, and render; every error is raised and answered by the one handler in
`provisioning.exceptions`."""

from django.http import JsonResponse
from django.urls import get_script_prefix
from rest_framework.response import Response
from rest_framework.views import APIView

from . import app_settings
from .scim import discovery, errors
from .scim.resource import Meta, parse_resource, render_resource
from .scim.schema import RESOURCE_TYPES, SCHEMAS, ResourceType

BASE_PATH = "scim/v2"


def base_url(request) -> str:
    """Return the absolute URL of the SCIM service root, e.g. `https://host/scim/v2`."""
    return request.build_absolute_uri(f"{get_script_prefix()}{BASE_PATH}")


def _int_param(request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise errors.InvalidValue(f"'{name}' must be an integer, not '{value}'.") from None


class DiscoveryView(APIView):
    """Base for the discovery endpoints, which take GET only (RFC 7644 §4)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # RFC 7644 §4: a filter on these endpoints SHOULD be refused with 403, so a client
        # cannot believe the results matched it.
        if "filter" in request.query_params:
            raise errors.Forbidden("Filtering is not supported on discovery endpoints.")


class ServiceProviderConfigView(DiscoveryView):
    def get(self, request):
        return Response(
            discovery.service_provider_config(
                base_url(request), max_results=app_settings.get("MAX_RESULTS")
            )
        )


class ResourceTypesView(DiscoveryView):
    def get(self, request, resource_type_id=None):
        base = base_url(request)
        if resource_type_id is None:
            reps = [rt.to_scim(base) for rt in RESOURCE_TYPES]
            return Response(discovery.list_response(reps, total=len(reps), start_index=1))
        for resource_type in RESOURCE_TYPES:
            if resource_type.id == resource_type_id:
                return Response(resource_type.to_scim(base))
        raise errors.NotFound(f"Resource type '{resource_type_id}' not found.")


class SchemasView(DiscoveryView):
    def get(self, request, schema_id=None):
        base = base_url(request)
        if schema_id is None:
            reps = [schema.to_scim(base) for schema in SCHEMAS]
            return Response(discovery.list_response(reps, total=len(reps), start_index=1))
        for schema in SCHEMAS:
            if schema.id.lower() == schema_id.lower():
                return Response(schema.to_scim(base))
        raise errors.NotFound(f"Schema '{schema_id}' not found.")


class ResourceView(APIView):
    """Base for the views of one resource type, served by one storage module."""

    resource_type: ResourceType = None
    store = None

    def render(self, request, obj) -> dict:
        location = f"{base_url(request)}{self.resource_type.endpoint}/{obj.pk}"
        meta = Meta(obj.created, obj.last_modified, obj.version, location)
        return render_resource(self.resource_type, str(obj.pk), obj.data, meta)

    @property
    def tenant(self):
        return self.request.user.tenant


class ResourceListView(ResourceView):
    """`GET` lists a resource type (RFC 7644 §3.4.2), `POST` creates one (§3.3)."""

    def get(self, request):
        if "filter" in request.query_params:
            raise errors.InvalidFilter("Filtering is not supported yet.")
        # RFC 7644 §3.4.2.4: startIndex below 1 is 1; a negative count is 0; count is capped.
        start_index = max(1, _int_param(request, "startIndex", 1))
        count = _int_param(request, "count", app_settings.get("DEFAULT_COUNT"))
        count = min(max(0, count), app_settings.get("MAX_RESULTS"))
        total, objs = self.store.page(self.tenant, start_index, count)
        resources = [self.render(request, obj) for obj in objs]
        return Response(discovery.list_response(resources, total=total, start_index=start_index))

    def post(self, request):
        document = parse_resource(request.data, self.resource_type)
        obj = self.store.create(self.tenant, document)
        body = self.render(request, obj)
        return Response(body, status=201, headers={"Location": body["meta"]["location"]})


class ResourceDetailView(ResourceView):
    """`GET`, `PUT` and `DELETE` of one resource (RFC 7644 §3.4.1, §3.5.1, §3.6)."""

    def get(self, request, resource_id):
        return Response(self.render(request, self.store.get(self.tenant, resource_id)))

    def put(self, request, resource_id):
        document = parse_resource(request.data, self.resource_type)
        obj = self.store.replace(self.tenant, resource_id, document)
        return Response(self.render(request, obj))

    def patch(self, request, resource_id):
        raise errors.NotImplementedByServer("PATCH is not supported yet.")

    def delete(self, request, resource_id):
        self.store.delete(self.tenant, resource_id)
        return Response(status=204)


class NotImplementedView(APIView):
    """An endpoint of RFC 7644 the server does not offer: 501 (RFC 7644 §3.12)."""

    detail = "This endpoint is not supported."

    def fail(self, request, *args, **kwargs):
        raise errors.NotImplementedByServer(self.detail)

    get = post = put = patch = delete = fail


class UnknownEndpointView(APIView):
    """Any other path under the SCIM root: a SCIM 404 whatever the method."""

    def fail(self, request, *args, **kwargs):
        raise errors.NotFound(f"No SCIM endpoint at '{request.path}'.")

    get = post = put = patch = delete = fail


def server_error(request):
    """Answer an error raised outside DRF (e.g. in middleware) with a SCIM 500 body.

    Django has already logged the exception with its traceback through `django.request`.
    """
    error = errors.InternalError()
    return JsonResponse(error.to_scim(), status=error.status, content_type="application/scim+json")
