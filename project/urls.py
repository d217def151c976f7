"""Demo site URLs: the admin, and the app's reports where a host site would mount them."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
    path("insights/", include("insights_app.urls")),
]
