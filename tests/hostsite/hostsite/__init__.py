"""An existing Django site that installs django-whereby-insights from its wheel."""
