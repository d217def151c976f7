"""Erasure by value: a person's value found anywhere in a stored payload or free text is replaced.

Rows that name a person in their own columns are pseudonymised or deleted whole (``rewrite``).
This pass covers what no list of keys can: every JSON column of every model of the app (raw API
items, webhook deliveries, run scopes and checkpoints, and any column added later) and every
free-text column, at any depth, in keys and values, as a whole value or as a whole word inside a
longer string (a ``metadata`` string that embeds a user id).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast

from .bulk import update_by_pk
from .hooks import DELETE
from .pseudonyms import is_pseudonym, pseudonym

# Columns this pass leaves alone: numbers only by construction (the detail sample arrays, the
# largest column by far), or the personal columns of rows that ``rewrite`` already handles whole.
SKIPPED = {
    ("ParticipantDetail", "samples"),
    ("Participant", "display_name"),
    ("ParticipantDetail", "display_name"),
    ("ParticipantDetail", "user_agent"),
}
CHUNK = 500


def _pattern(values: Iterable[str]) -> re.Pattern[str]:
    """The values as whole words (not inside a longer id or word), longest first."""
    alternatives = "|".join(re.escape(v) for v in sorted(set(values), key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


class _Scrubber:
    """Replaces the values in one payload; ``delete`` mode empties a whole-value match."""

    def __init__(self, values: list[str], mode: str) -> None:
        self.values = {v for v in values if v and not is_pseudonym(v)}
        self.pattern = _pattern(self.values)
        self.mode = mode

    def text(self, value: str) -> str:
        return self.pattern.sub(lambda match: pseudonym(match.group()), value)

    def leaf(self, value: str) -> str | None:
        if value in self.values:
            return None if self.mode == DELETE else pseudonym(value)
        return self.text(value)

    def payload(self, value: Any) -> Any:
        """``value`` with every occurrence replaced; iterative, so no depth is too deep to read."""
        root: list[Any] = [value]
        stack: list[tuple[Any, Any]] = [(root, 0)]
        while stack:
            parent, key = stack.pop()
            item = parent[key]
            if isinstance(item, str):
                parent[key] = self.leaf(item)
            elif isinstance(item, list):
                item = parent[key] = list(item)
                stack.extend((item, i) for i in range(len(item)))
            elif isinstance(item, dict):
                item = parent[key] = {self.text(k) if isinstance(k, str) else k: v for k, v in item.items()}
                stack.extend((item, k) for k in item)
        return root[0]


def _columns() -> list[tuple[type[models.Model], models.Field]]:
    """Every JSON and free-text column of the app's concrete models."""
    found: list[tuple[type[models.Model], models.Field]] = []
    for model in apps.get_app_config("insights_app").get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if (model.__name__, field.name) in SKIPPED:
                continue
            if isinstance(field, models.JSONField | models.TextField):
                found.append((model, field))
    return found


def _needles(values: Iterable[str]) -> set[str]:
    """How each value may look in the column's text: as is, and as JSON writes it (escaped)."""
    needles = set()
    for value in values:
        needles.add(value)
        needles.add(json.dumps(value)[1:-1])
        needles.add(json.dumps(value, ensure_ascii=False)[1:-1])
    return needles


def _candidates(model: type[models.Model], field: models.Field, needles: set[str]) -> Any:
    """Rows whose column, read as text, contains a needle (a superset: matched again in Python)."""
    condition = Q()
    for needle in needles:
        condition |= Q(_erasure_text__contains=needle)
    return (
        model._default_manager.annotate(_erasure_text=Cast(field.name, models.TextField()))
        .filter(condition)
        .values_list("pk", field.name)
    )


def erase_values(values: list[str], *, mode: str, dry_run: bool) -> dict[str, int]:
    """Replace the person's ``values`` in every stored payload; returns {"<model> payloads": rows}."""
    scrubber = _Scrubber(values, mode)
    if not scrubber.values:
        return {}
    needles = _needles(scrubber.values)
    counts: dict[str, int] = {}
    for model, field in _columns():
        clean: Callable[[Any], Any] = (
            scrubber.payload if isinstance(field, models.JSONField) else scrubber.text
        )
        changed = []
        for pk, value in _candidates(model, field, needles).iterator(chunk_size=CHUNK):
            if value is None:
                continue
            new = clean(value)
            if new != value:
                changed.append({"pk": pk, field.name: new})
        if changed and not dry_run:
            update_by_pk(model, changed, [field.name])
        if changed:
            label = f"{model._meta.verbose_name} payloads"
            counts[label] = counts.get(label, 0) + len(changed)
    return counts
