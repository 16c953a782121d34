"""Vocabulary test fixtures: nltk's WordNet 3.0 (through larvseg's own loader)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from larvseg.vocab.table import nltk_wordnet


@pytest.fixture(scope="session")
def wordnet() -> Any:
    """nltk's WordNet 3.0; skip where it is missing, fail where env var CI is set."""
    found = nltk_wordnet()
    if found is None:
        message = (
            "nltk's WordNet 3.0 is not installed: run `scripts/install_wordnet.sh DIR` and set"
            " NLTK_DATA=DIR"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found
