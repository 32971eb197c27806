"""Routes under the SCIM service root (RFC 7644 §3.2). Paths take no trailing slash, but one
is tolerated. Route names (`scim:users`, `scim:user`, ...) label the request metrics."""

from django.urls import re_path

from . import views
from .scim.schema import GROUP_RESOURCE_TYPE, RESOURCE_TYPES, SCHEMAS, USER_RESOURCE_TYPE
from .storage import groups, users

app_name = "scim"

# Each resource type, the storage module that serves it, and its detail view.
RESOURCES = ((USER_RESOURCE_TYPE, users), (GROUP_RESOURCE_TYPE, groups))
DETAIL_VIEWS = {"User": views.ResourceDetailView, "Group": views.GroupDetailView}


RESOURCE_TYPES_VIEW = views.DiscoveryCollectionView.as_view(
    items=RESOURCE_TYPES, noun="Resource type"
)
SCHEMAS_VIEW = views.DiscoveryCollectionView.as_view(items=SCHEMAS, noun="Schema")


def _resource_routes(resource_type, store) -> list:
    endpoint = resource_type.endpoint.lstrip("/")
    kwargs = {"resource_type": resource_type, "store": store}
    detail = DETAIL_VIEWS[resource_type.id]
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
            name=resource_type.id.lower(),
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
    *(
        route
        for resource_type, store in RESOURCES
        for route in _resource_routes(resource_type, store)
    ),
    re_path(r"^\.search/?$", views.RootSearchView.as_view(resources=RESOURCES), name="search"),
    # RFC 7644 §3.11: a server without /Me SHOULD answer 501.
    re_path(
        r"^Me(?:/[\s\S]*)?$",
        views.NotImplementedView.as_view(detail="/Me is not supported."),
        name="me",
    ),
    re_path(
        r"^Bulk/?$", views.NotImplementedView.as_view(detail="Bulk is not supported."), name="bulk"
    ),
    # [\s\S], not `.`: it matches a newline too, which a path may carry (%0A); else such a path fell
    # through every route to Django's HTML 404.
    re_path(r"^[\s\S]*$", views.UnknownEndpointView.as_view(), name="unknown"),
]
