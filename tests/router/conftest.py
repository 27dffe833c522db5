from __future__ import annotations

import pytest

from router import RouterState, load_config


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture(scope="session")
def state(config):
    return RouterState(config)
