"""The README's settings snippet, pasted into a settings module as it stands, works."""

from __future__ import annotations

import re

import pytest

from tests.helpers import ROOT


def readme_settings_snippet() -> str:
    """The first python block of the README's "Add to your Django site" step 2 (Settings)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Add to your Django site") :]
    section = section[section.index("Settings:") :]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, "no python block under the README's Settings step"
    return "\n".join(line[3:] if line.startswith("   ") else line for line in block.group(1).splitlines())


def test_the_snippet_runs_alone_with_its_variables_unset(monkeypatch):
    # collectstatic in a build step, say: no secrets in the environment.
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("WHEREBY_API_KEY", raising=False)
    namespace: dict = {}
    exec(compile(readme_settings_snippet(), "README settings", "exec"), namespace)  # noqa: S102
    assert namespace["WHEREBY_INSIGHTS"]["API_KEY"] is None
    assert namespace["RQ_QUEUES"]["whereby_insights"]["URL"].startswith("redis://")
    assert namespace["USE_TZ"] is True


def test_the_snippet_reads_its_variables_when_set(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://redis.internal:6379/3")
    monkeypatch.setenv("WHEREBY_API_KEY", "from-the-environment")
    namespace: dict = {}
    exec(compile(readme_settings_snippet(), "README settings", "exec"), namespace)  # noqa: S102
    assert namespace["WHEREBY_INSIGHTS"]["API_KEY"] == "from-the-environment"
    assert namespace["RQ_QUEUES"]["whereby_insights"]["URL"] == "redis://redis.internal:6379/3"


@pytest.mark.django_db
def test_the_snippets_settings_pass_the_checks_a_command_runs(settings, monkeypatch, redis_conn):
    """Before every command's output, the README's settings print nothing of ours but a missing key."""
    from django.core.checks import run_checks

    monkeypatch.setenv("WHEREBY_API_KEY", "from-the-environment")
    namespace: dict = {}
    exec(compile(readme_settings_snippet(), "README settings", "exec"), namespace)  # noqa: S102
    settings.WHEREBY_INSIGHTS = namespace["WHEREBY_INSIGHTS"]
    settings.SILENCED_SYSTEM_CHECKS = []
    settings.ADMINS = []
    ours = [m.id for m in run_checks(tags=["insights_app"]) if m.id.startswith("insights_app.")]
    assert ours == []


def readme_urls_snippet() -> str:
    """The python block of the README's step 3 (URLs), unindented."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Add to your Django site") :]
    section = section[section.index("3. URLs") :]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, "no python block under the README's URLs step"
    return "\n".join(line[3:] if line.startswith("   ") else line for line in block.group(1).splitlines())


def test_the_urls_snippet_pasted_into_startprojects_urls_py_runs():
    # startproject's urls.py imports admin and path only: whatever else the snippet uses, it must import.
    namespace: dict = {}
    exec("from django.contrib import admin\nfrom django.urls import path\n", namespace)  # noqa: S102
    exec(compile(readme_urls_snippet(), "README urls", "exec"), namespace)  # noqa: S102
    prefixes = [str(p.pattern) for p in namespace["urlpatterns"]]
    assert "insights/" in prefixes and "admin/" in prefixes
