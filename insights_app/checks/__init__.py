"""System checks for the app's configuration (ids insights_app.E00x / W00x, see docs/checks.md).

Importing the package registers them (``InsightsAppConfig.ready``).
"""

from . import connection, sharing, values  # noqa: F401  (each module registers its checks)
