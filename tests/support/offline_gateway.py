"""A `Gateway` object without a server or an upstream, on its own SQLite ledger: for tests of
its bookkeeping (holds, the periodic sweep, feedback) that call its methods directly."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from router.gateway.accounts import Ledger
from router.gateway.handlers import Gateway
from router.gateway.live_state import live_state_for
from router.gateway.metrics import GatewayMetrics
from router.gateway.reload import ConfigHolder
from router.gateway.settings import GatewaySettings


def offline_gateway(db_path: Path, **settings: Any) -> Gateway:
    """Close it with `gateway.ledger.close()`."""
    config = dataclasses.replace(GatewaySettings(), db_path=db_path, **settings)
    return Gateway(config, ConfigHolder(None), Ledger(db_path), live_state_for(None, None), GatewayMetrics())
