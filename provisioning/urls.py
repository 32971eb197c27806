"""Routes under the SCIM service root (RFC 7644 §3.2). Paths take no trailing slash, but one
is tolerated. Route names (`scim:users`, `scim:user`, ...) label the request metrics."""

from django.urls import re_path

from . import views
from .resources import RESOURCES
from .scim.schema import RESOURCE_TYPES, SCHEMAS

app_name = "scim"

# The detail view of each resource type.
DETAIL_VIEWS = {"User": views.ResourceDetailView, "Group": views.GroupDetailView}


RESOURCE_TYPES_VIEW = views.DiscoveryCollectionView.as_view(
    items=RESOURCE_TYPES, noun="Resource type"
)
SCHEMAS_VIEW = views.DiscoveryCollectionView.as_view(items=SCHEMAS, noun="Schema")


def _resource_routes(resource) -> list:
    endpoint = resource.type.endpoint.lstrip("/")
    kwargs = {"resource": resource}
    detail = DETAIL_VIEWS[resource.type.id]
    name = endpoint.lower()
    return [
        re_path(rf"^{endpoint}/?$", views.ResourceListView.as_view(**kwargs), name=name),
        # Before the detail route, which would read ".search" as an id.
        re_path(
            rf"^{endpoint}/\.search/?$",
            views.ResourceSearchView.as_view(**kwargs),
            name=f"{name}-search",
        ),
        re_path(
            rf"^{endpoint}/(?P<resource_id>[^/]+)/?$",
            detail.as_view(**kwargs),
            name=resource.type.id.lower(),
        ),
    ]


urlpatterns = [
    re_path(
        r"^ServiceProviderConfig/?$",
        views.ServiceProviderConfigView.as_view(),
        name="service-provider-config",
    ),
    re_path(
        r"^ResourceTypes(?:/(?P<item_id>[^/]+))?/?$", RESOURCE_TYPES_VIEW, name="resource-types"
    ),
    re_path(r"^Schemas(?:/(?P<item_id>[^/]+))?/?$", SCHEMAS_VIEW, name="schemas"),
    *(route for resource in RESOURCES for route in _resource_routes(resource)),
    re_path(
        r"^\.search/?$",
        views.RootSearchView.as_view(resources=RESOURCES),
        name="search",
    ),
    # RFC 7644 §3.11: a server without /Me SHOULD answer 501.
    re_path(
        r"^Me(?:/[\s\S]*)?$",
        views.NotImplementedView.as_view(detail="/Me is not supported."),
        name="me",
    ),
    re_path(r"^Bulk/?$", views.BulkView.as_view(), name="bulk"),
    # [\s\S], not `.`: it matches a newline too, which a path may carry (%0A); else such a path fell
    # through every route to Django's HTML 404.
    re_path(r"^[\s\S]*$", views.UnknownEndpointView.as_view(), name="unknown"),
]
