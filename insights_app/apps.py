"""App configuration."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsAppConfig(AppConfig):
    """Whereby Insights app: registers checks and settings-cache signals on ready."""

    name = "insights_app"
    verbose_name = _("Whereby Insights")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, conf  # noqa: F401  (registers checks and the setting_changed receiver)
        from .alerts import checks as alert_checks  # noqa: F401  (the ALERTS checks)
        from .rollups.marks import connect_signals
        from .webhooks import checks as webhook_checks  # noqa: F401  (registers the webhook checks)
        from .webhooks import erasure  # noqa: F401  (erasure reaches presence and webhook payloads)

        connect_signals()
