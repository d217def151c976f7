"""Fields whose placeholder casts the parameter: the same for Django 6.1's ``get_placeholder_sql``."""

from __future__ import annotations

from typing import Any


class CastPlaceholder:
    """Gives ``get_placeholder_sql`` (Django 6.1 and later) from the field's ``get_placeholder``."""

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        """The plain placeholder; fields override it with a cast."""
        return "%s"

    def get_placeholder_sql(self, value: Any, compiler: Any, connection: Any) -> tuple[str, Any]:
        """``get_placeholder`` with its parameters, as Django 6.1 and later ask for it."""
        placeholder = self.get_placeholder(value, compiler, connection)
        if hasattr(value, "as_sql"):
            sql, params = compiler.compile(value)
            return placeholder % sql, params
        return placeholder, (value,)
