"""Top-level routes: the SCIM API under /scim/v2 and the Django admin."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("scim/v2/", include("provisioning.urls")),
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]

handler500 = "provisioning.views.server_error"
