"""Report URLs, mounted by the host site with ``path("insights/", include("insights_app.urls"))``."""

from django.urls import path  # noqa: F401

app_name = "insights_app"

urlpatterns: list = []
