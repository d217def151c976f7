"""System checks for the app's configuration (ids insights_app.E00x / W00x, see docs/checks.md)."""
