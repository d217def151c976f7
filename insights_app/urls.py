"""Report and webhook URLs, mounted by the host site with ``path("insights/", include("insights_app.urls"))``."""

from django.urls import path, register_converter

from .reports.assets import plotly_js
from .reports.converters import ExternalIdConverter
from .reports.views.fetch import fetch_connection_samples, fetch_run_status, fetch_session_samples
from .reports.views.overview import OverviewView
from .reports.views.participant import ParticipantQualityView
from .reports.views.people import PeopleView, PersonView
from .reports.views.quality import QualityView
from .reports.views.room import RoomView
from .reports.views.session import SessionView
from .webhooks.intake import whereby_webhook
from .webhooks.views import presence_view

register_converter(ExternalIdConverter, "external_id")

app_name = "insights_app"

urlpatterns = [
    path("", OverviewView.as_view(), name="overview"),
    path("rooms/<int:pk>/", RoomView.as_view(), name="room"),
    path("sessions/<int:pk>/", SessionView.as_view(), name="session"),
    path("connections/<int:pk>/quality/", ParticipantQualityView.as_view(), name="participant_quality"),
    path("quality/", QualityView.as_view(), name="quality"),
    path("people/", PeopleView.as_view(), name="people"),
    path("people/<external_id:external_id>/", PersonView.as_view(), name="person"),
    path("connections/<int:pk>/fetch-samples/", fetch_connection_samples, name="fetch_connection_samples"),
    path("sessions/<int:pk>/fetch-samples/", fetch_session_samples, name="fetch_session_samples"),
    path("runs/<int:pk>/status.json", fetch_run_status, name="fetch_run_status"),
    path("assets/plotly-<str:version>.min.js", plotly_js, name="plotly_js"),
    # Webhooks (docs/webhooks.md): Whereby posts here; 404 until WEBHOOK_SECRET is set.
    path("webhooks/whereby/", whereby_webhook, name="whereby_webhook"),
    path("webhooks/presence/", presence_view, name="webhook_presence"),
]
