"""Top-level routes: the SCIM API under /scim/v2 and the Django admin. (/health/live,
/health/ready and /metrics are answered before routing, by provisioning.middleware.)"""

from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from provisioning.views import UnknownEndpointView


def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (Django's plain 404 page)."""
    return HttpResponsePermanentRedirect(static("provisioning/favicon.svg"))


urlpatterns = [
    path("scim/v2/", include("provisioning.urls")),
    # The service root itself has no resource: a SCIM 404, not Django's HTML one.
    path("scim/v2", UnknownEndpointView.as_view(), name="scim-root"),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon),
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="root"),
]

handler400 = "provisioning.http.bad_request"
handler500 = "provisioning.http.server_error"
