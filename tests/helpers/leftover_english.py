"""What a page shows in words: its text, labelling attributes and chart texts; and the English left in it."""

from __future__ import annotations

import gettext
import json
import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import django
from django.utils.translation import trans_real

import insights_app

LOCALE_DIR = Path(insights_app.__file__).parent / "locale"
# Attributes a reader sees or hears (data-*-label/-text are the dashboard script's words).
SHOWN_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "label"}
# Plotly figure keys whose strings are words (axis categories too: weekdays; data is taken out later).
FIGURE_TEXT_KEYS = {
    "x",
    "y",
    "title",
    "text",
    "name",
    "hovertemplate",
    "ticktext",
    "ticksuffix",
    "legendgrouptitle",
}
# Words that read the same in every language of the site (units, names, abbreviations).
NEUTRAL = {
    "api",
    "b",
    "kb",
    "mb",
    "gb",
    "tb",
    "kib",
    "mib",
    "bit",
    "kbit",
    "mbit",
    "gbit",
    "min",
    "h",
    "s",
    "ms",
    "utc",
    "csv",
    "json",
    "rq",
    "redis",
    "whereby",
    "id",
    "ids",
    "url",
    "rtt",
    "ok",
    "sql",
    "http",
    "https",
    "django",
    "plotly",
    "webhook",
    "webhooks",
    "cpu",
    "pid",
    "ip",
    "os",
    "br",
    "extra",
    "x",
    "y",
    "customdata",
}
# Django's admin writes these in English in every language (search_form.html's alt="Search", a boolean icon's alt="False").
DJANGO_UNTRANSLATED = {"search", "true", "false"}
# Keys of the dashboard's status feed that its script shows (the rest are states, URLs, numbers).
SHOWN_JSON_KEYS = ("_text", "_label", "label", "duration", "problems", "error", "started_by")
WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
PLACEHOLDER = re.compile(r"%\{[^}]*\}|<[^>]*>")


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.figures: list[str] = []
        self._skip = 0
        self._json = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
            self._json = attributes.get("type") == "application/json"
        if tag == "code":  # a setting's or a command's name: code, the same in every language
            self._skip += 1
        for name, value in attrs:
            if value and (
                name in SHOWN_ATTRIBUTES
                or (name.startswith("data-") and name.endswith(("-label", "-text")))
                or (name == "value" and tag == "input" and attributes.get("type") in ("submit", "button"))
            ):
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
            self._json = False
        if tag == "code":
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if self._json:
            self.figures.append(data)
        elif not self._skip and data.strip():
            self.texts.append(data)


def _figure_texts(node: object, key: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _figure_texts(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from _figure_texts(item, key)
    elif isinstance(node, str) and key in FIGURE_TEXT_KEYS:
        yield node


def figures(html: str) -> list[dict]:
    """The Plotly figures of a page (its application/json scripts holding data and layout)."""
    parser = _Texts()
    parser.feed(html)
    found = []
    for text in parser.figures:
        try:
            figure = json.loads(text)
        except ValueError:
            continue
        if isinstance(figure, dict) and "layout" in figure:
            found.append(figure)
    return found


def shown_texts(html: str) -> set[str]:
    """Every text a reader meets on the page, whitespace-normalised."""
    parser = _Texts()
    parser.feed(html)
    texts = list(parser.texts)
    for figure in parser.figures:
        try:
            texts += _figure_texts(json.loads(figure))
        except ValueError:
            continue
    return {" ".join(t.split()) for t in texts if t.strip()}


def json_texts(payload: object) -> set[str]:
    """The strings of a JSON reply (the dashboard's status feed) that its page shows."""
    found: set[str] = set()

    def walk(node: object, shown: bool = False) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, key.endswith(SHOWN_JSON_KEYS))
        elif isinstance(node, list):
            for value in node:
                walk(value, shown)
        elif shown and isinstance(node, str) and node.strip():
            found.add(" ".join(node.split()))

    walk(payload)
    return found


def translated_words(language: str) -> set[str]:
    """Words the translations in ``language`` use: a word the translation itself uses is no English left.

    Django's own catalogue counts for the words the app's English does not use ("Filter", "November"
    read the same in German); the app's words must come from its own translation (Django's German
    keeps "Sessions", the name of its sessions app, which would hide an untranslated chart label).
    """
    with (LOCALE_DIR / language / "LC_MESSAGES" / "django.mo").open("rb") as fh:
        ours = gettext.GNUTranslations(fh)._catalog  # type: ignore[attr-defined]

    def words(texts: Iterable[object]) -> set[str]:
        return {w.lower() for text in texts for w in WORD.findall(PLACEHOLDER.sub(" ", str(text)))}

    ours_english = words(key[0] if isinstance(key, tuple) else key for key in ours)
    django = words(v for _k, v in trans_real.translation(language)._catalog.items())
    return words(ours.values()) | (django - ours_english) | DJANGO_UNTRANSLATED


PO_MSGID = re.compile(r'^msgid ((?:"(?:[^"\\]|\\.)*"\s*)+)', re.MULTILINE)
PO_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
PO_PLACEHOLDER = re.compile(r"%\(\w+\)[sdf]|%[sd]|\{\w*\}")


def django_gaps(language: str) -> list[re.Pattern[str]]:
    """Django's own admin texts that Django's catalogue for ``language`` leaves in English (its Norwegian
    lacks "Select all objects on this page for an action"), as patterns over shown text."""
    root = Path(django.__file__).parent
    translated = {key for key, _v in trans_real.translation(language)._catalog.items()}
    patterns = []
    for po in (
        root / "contrib/admin/locale/en/LC_MESSAGES/django.po",
        root / "conf/locale/en/LC_MESSAGES/django.po",
    ):
        for match in PO_MSGID.finditer(po.read_text(encoding="utf-8")):
            msgid = "".join(PO_STRING.findall(match.group(1))).replace('\\"', '"')
            if msgid and msgid not in translated:
                parts = PO_PLACEHOLDER.split(" ".join(msgid.split()))
                patterns.append(re.compile(".*".join(re.escape(part) for part in parts) + r"\Z", re.DOTALL))
    return patterns


def _words(text: str, data: list[str]) -> set[str]:
    for value in data:
        if value in text:
            # Whole words only: a short stored value ("eu") inside a word ("pseudonymise") is no data.
            text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", " ", text)
    return {w.lower() for w in WORD.findall(PLACEHOLDER.sub(" ", text))}


def leftover_english(
    english: set[str],
    translated: set[str],
    data: Iterable[str],
    allowed_words: set[str],
    django_texts: Iterable[re.Pattern[str]] = (),
) -> list[str]:
    """Texts of the translated page holding words of the English page that the translation does not use.

    Data (names, ids, anything stored) is taken out first: it reads the same in every language. A text
    half translated ("synced 4 Minuten ago") is caught by its English words.
    """
    values = sorted({d for d in data if d and len(d) > 1}, key=len, reverse=True)
    english_words: set[str] = set()
    for text in english:
        english_words |= _words(text, values)
    english_words -= NEUTRAL | allowed_words
    django_texts = list(django_texts)
    left = []
    for text in sorted(translated):
        if any(pattern.match(text) for pattern in django_texts):
            continue  # Django's own words, in Django's own gaps
        words = _words(text, values) & english_words
        if words:
            left.append(f"{text}  [{' '.join(sorted(words))}]")
    return left
