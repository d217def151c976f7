"""Whereby's openapi.json from ../shared: skipped only outside CI when the shared folder is absent."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import ROOT

OPENAPI = ROOT.parent / "shared" / "whereby" / "openapi.json"


def load_openapi(path: Path = OPENAPI) -> dict:
    """The spec as a dict; a missing file fails in CI (``CI`` set) and skips elsewhere."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing in CI")
        pytest.skip(f"{path} not present (outside CI)")
    return json.loads(path.read_text())
