"""Routes under the SCIM service root (RFC 7644 §3.2). Paths take no trailing slash, but one
is tolerated."""

from django.urls import re_path

from . import views
from .scim.schema import USER_RESOURCE_TYPE
from .storage import users

app_name = "scim"

urlpatterns = [
    # Before the resource routes, which would read ".search" as a resource id.
    re_path(
        r"^(.*/)?\.search/?$",
        views.NotImplementedView.as_view(detail="/.search is not supported yet."),
    ),
    re_path(r"^ServiceProviderConfig/?$", views.ServiceProviderConfigView.as_view()),
    re_path(r"^ResourceTypes/?$", views.ResourceTypesView.as_view()),
    re_path(r"^ResourceTypes/(?P<resource_type_id>[^/]+)/?$", views.ResourceTypesView.as_view()),
    re_path(r"^Schemas/?$", views.SchemasView.as_view()),
    re_path(r"^Schemas/(?P<schema_id>[^/]+)/?$", views.SchemasView.as_view()),
    re_path(
        r"^Users/?$",
        views.ResourceListView.as_view(resource_type=USER_RESOURCE_TYPE, store=users),
    ),
    re_path(
        r"^Users/(?P<resource_id>[^/]+)/?$",
        views.ResourceDetailView.as_view(resource_type=USER_RESOURCE_TYPE, store=users),
    ),
    # RFC 7644 §3.11: a server without /Me SHOULD answer 501.
    re_path(r"^Me(/.*)?$", views.NotImplementedView.as_view(detail="/Me is not supported.")),
    re_path(r"^Bulk/?$", views.NotImplementedView.as_view(detail="Bulk is not supported.")),
    re_path(r"^.*$", views.UnknownEndpointView.as_view()),
]
