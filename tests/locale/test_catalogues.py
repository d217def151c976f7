"""The German and Norwegian catalogues stay complete: every string of the app translated, none fuzzy, none
stale, the compiled .mo files (they ship in the wheel) built from the .po files beside them."""

from __future__ import annotations

import gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import insights_app
from tests.helpers.po import read_po

# makemessages and msgfmt run as processes.
pytestmark = pytest.mark.integration

APP = Path(insights_app.__file__).parent
LANGUAGES = ("de", "nb")
PLURAL_FORMS = "nplurals=2; plural=(n != 1);"
MAKEMESSAGES = ("makemessages", "--add-location", "file", *[f"--locale={lang}" for lang in LANGUAGES])


def _gettext_tools() -> None:
    missing = [tool for tool in ("xgettext", "msgmerge", "msgfmt") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"GNU gettext is not installed ({', '.join(missing)} missing): run `make gettext`")


def _run_django(args: tuple[str, ...], cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-m", "django", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    """A copy of the app whose catalogues ``makemessages`` has brought up to date with its code."""
    _gettext_tools()
    copy = tmp_path_factory.mktemp("catalogues") / "insights_app"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run_django(MAKEMESSAGES, copy)
    _run_django((*MAKEMESSAGES, "--domain", "djangojs"), copy)
    return copy


def _catalogue(root: Path, language: str, domain: str = "django") -> Path:
    return root / "locale" / language / "LC_MESSAGES" / f"{domain}.po"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_of_the_app_is_translated_and_none_fuzzy(regenerated, language):
    _, entries = read_po(_catalogue(regenerated, language))
    untranslated = [e.msgid for e in entries if not e.obsolete and not e.translated]
    fuzzy = [e.msgid for e in entries if not e.obsolete and "fuzzy" in e.flags]
    assert not untranslated, (
        f"untranslated in {language} (translate them in the .po, then compilemessages): {untranslated}"
    )
    assert not fuzzy, f"fuzzy in {language}: {fuzzy}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_catalogue_holds_exactly_the_apps_strings(regenerated, language):
    _, committed = read_po(_catalogue(APP, language))
    _, fresh = read_po(_catalogue(regenerated, language))
    in_code = {e.key for e in fresh if not e.obsolete}
    in_catalogue = {e.key for e in committed if not e.obsolete}
    assert not in_code - in_catalogue, (
        "strings missing from the catalogue: run makemessages (docs/translations.md)"
    )
    assert not in_catalogue - in_code, "strings the code no longer has: run makemessages to drop them"
    assert not [e.msgid for e in committed if e.obsolete], "obsolete (#~) entries left in the catalogue"


def test_javascript_has_no_strings_without_a_catalogue(regenerated):
    """The scripts take every word from data-* attributes the templates translate; a gettext() call in
    a script needs djangojs catalogues and JavaScriptCatalog, which the app does not ship yet."""
    for language in LANGUAGES:
        fresh = _catalogue(regenerated, language, "djangojs")
        entries = read_po(fresh)[1] if fresh.exists() else []
        assert not entries or _catalogue(APP, language, "djangojs").exists(), [e.msgid for e in entries]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogue_header_declares_the_language_and_its_plural_forms(language):
    header, entries = read_po(_catalogue(APP, language))
    assert header["Language"] == language
    assert header["Plural-Forms"] == PLURAL_FORMS
    assert header["#fuzzy"] == "", "a fuzzy header is left out of the .mo: plural forms would be lost"
    plurals = [e for e in entries if e.msgid_plural]
    assert plurals and all(sorted(e.msgstr) == [0, 1] for e in plurals)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_shipped_mo_is_compiled_from_the_po_beside_it(tmp_path, language):
    _gettext_tools()
    po = _catalogue(APP, language)
    fresh = tmp_path / "django.mo"
    # --check-format: every %(name)s and {} of a message is in its translation too.
    result = subprocess.run(
        ["msgfmt", "--check-format", "--check-header", "-o", str(fresh), str(po)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    with fresh.open("rb") as a, po.with_suffix(".mo").open("rb") as b:
        built, shipped = gettext.GNUTranslations(a), gettext.GNUTranslations(b)
    assert shipped._catalog == built._catalog, "stale .mo: run compilemessages (docs/translations.md)"  # type: ignore[attr-defined]
    assert shipped.ngettext("a", "b", 2) == "b"  # the plural forms reached the .mo
