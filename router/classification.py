"""Adapter-side helper for the efficient tier: decide whether a request needs the
classifier, and run it. Adapters (the gateway, the LiteLLM plug-in) call this before
`route()` and pass the prediction in `RoutingRequest.classification`; the pure core never
loads or runs a model itself.

The classifier is loaded once, on first use, so processes that never see an efficient
request never pay for it.
"""

from __future__ import annotations

import threading
from typing import Any

from router.config import RouterConfig


def needs_classification(config: RouterConfig, requested_model: str | None) -> bool:
    """True when `requested_model` names a tier whose strategy uses the classifier."""
    tier = config.tier_of(requested_model or "")
    return tier is not None and config.tiers.tiers[tier].strategy == "efficient"


class LazyClassifier:
    """`classifier.load(location)` on first `predict`; safe to share between threads."""

    def __init__(self, location: str | None = None):
        self._location = location
        self._clf: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._clf is None:
            with self._lock:
                if self._clf is None:
                    from classifier import load

                    self._clf = load(self._location)
        return self._clf

    def predict(self, body: dict[str, Any], mode: str | None = None) -> Any:
        """The prediction for a request body in any of the three API shapes, or None when
        the body holds no user text to classify (the efficient tier then says so)."""
        from classifier import RequestError

        request = {**body, "mode": mode} if mode else body
        try:
            return self.get().predict(request)
        except RequestError:
            return None
