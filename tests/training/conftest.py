"""Fixtures for training tests; tests needing ../shared/data skip when it is absent."""

from __future__ import annotations

import pytest

from training.sources import default_data_root

DATA_ROOT = default_data_root()
HAVE_DATA = (DATA_ROOT / "arena_hard_v0.1" / "question.jsonl").is_file()

needs_data = pytest.mark.skipif(
    not HAVE_DATA,
    reason=f"public data not found at {DATA_ROOT}: set AUTOTIER_DATA_ROOT or place "
    "../shared/data next to the checkout (see ../shared/data/SOURCES.md)",
)


@pytest.fixture(scope="session")
def data_root():
    if not HAVE_DATA:
        pytest.skip(f"public data not found at {DATA_ROOT}")
    return DATA_ROOT
