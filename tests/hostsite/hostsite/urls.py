"""The host site's URLs: its own home page, the admin, and the reports under a prefix of its choosing."""

from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path


def home(request):
    """The site's own page, to show the app does not claim the root."""
    return HttpResponse("host site home")


urlpatterns = [
    path("", home, name="home"),
    path("backoffice/", admin.site.urls),
    path("analytics/whereby/", include("insights_app.urls")),
]
