"""Demo site URLs: the admin, and the app's reports where a host site would mount them."""

from functools import wraps

import django_rq.urls
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import URLPattern, include, path, reverse
from django.views.generic import RedirectView


def superusers_only(view):
    """django-rq's pages can delete and requeue any job (leaving its sync run waiting for nothing):
    superusers only, where django-rq itself lets in every staff user."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not (request.user.is_active and request.user.is_superuser):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded


rq_patterns = [
    URLPattern(p.pattern, superusers_only(p.callback), p.default_args, p.name)
    for p in django_rq.urls.urlpatterns
]

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("django-rq/", include((rq_patterns, django_rq.urls.app_name))),
    path("insights/", include("insights_app.urls")),
]
