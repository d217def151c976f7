"""django-whereby-insights: keep your Whereby Insights history in your own database."""

__version__ = "0.1.0"
