"""autotier's routing core: the decision contract, the catalog and tier config, `route()`.

Core modules import no adapter (gateway, LiteLLM hook, CLI) and never import LiteLLM.
"""

from router.availability import Availability, ModelState, ModelStatus
from router.catalog import Catalog, Model
from router.config import RouterConfig, load_config
from router.contract import Account, ApiKind, RoutingDecision, RoutingRequest
from router.core import RouterState, route
from router.errors import (
    AutotierError,
    ConfigError,
    NoModelAvailableError,
    PolicyError,
    RoutingError,
    UnknownModelError,
    UnsupportedInputError,
)
from router.reasoning import strip_foreign_reasoning

__all__ = [
    "Account", "ApiKind", "Availability", "AutotierError", "Catalog", "ConfigError", "Model",
    "ModelState", "ModelStatus", "NoModelAvailableError", "PolicyError", "RouterConfig", "RouterState",
    "RoutingDecision", "RoutingError", "RoutingRequest", "UnknownModelError",
    "UnsupportedInputError", "load_config", "route", "strip_foreign_reasoning",
]
