"""Shared test fixtures: the corpus location and small, honest settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("TIKGUARD_CORPUS", REPO.parent / "shared" / "corpus"))


def corpus_dir(sub: str) -> Path:
    """A corpus sub-folder, or skip the test with a clear message if it is absent."""
    path = CORPUS / sub
    if not path.is_dir():
        pytest.skip(f"RouterOS corpus not found at {path} (set TIKGUARD_CORPUS to its folder)")
    return path


def corpus_exports() -> list[Path]:
    """Every export in the corpus, for parametrised tests (empty when absent)."""
    path = CORPUS / "exports"
    return sorted(path.glob("*.rsc")) if path.is_dir() else []
