"""The decision contract: what a router is asked (`RoutingRequest`) and what it answers
(`RoutingDecision`). Plain frozen dataclasses: cheap to build on every request."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router.policy import Policy


class ApiKind(StrEnum):
    """The wire API the client speaks."""

    CHAT = "chat"  # OpenAI chat completions
    RESPONSES = "responses"  # OpenAI Responses
    MESSAGES = "messages"  # Anthropic Messages


@dataclass(frozen=True, slots=True)
class Account:
    """Who is asking. Anonymous callers are `authenticated=False`; balance is in US dollars."""

    authenticated: bool = False
    balance: float = 0.0

    @property
    def has_paid_balance(self) -> bool:
        return self.authenticated and self.balance > 0


ANONYMOUS = Account()


def estimate_tokens(text: str) -> int:
    """Rough prompt size: about four characters a token for English and code. Good
    enough to rule out models whose context window is clearly too small."""
    return (len(text) + 3) // 4


@dataclass(frozen=True, slots=True)
class RoutingRequest:
    """Everything `route()` may look at. Adapters build it from HTTP requests; tests by hand.

    `estimated_prompt_tokens` is a rough count (None: unknown); `required_modalities` names
    input kinds beyond text that the model must accept (e.g. {"image"}); `previous_model` is
    the catalog id that served this session's previous turn, when known.
    """

    requested_model: str | None = None
    api_kind: ApiKind = ApiKind.CHAT
    mode: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    client_ip: str | None = None
    account: Account = ANONYMOUS
    estimated_prompt_tokens: int | None = None
    required_modalities: frozenset[str] = frozenset()
    previous_model: str | None = None
    # The efficient tier's classifier output (a `classifier.Prediction` or a mapping with
    # route_probs, difficulty_probs, route_key, difficulty, confidence); others ignore it.
    classification: Any = None
    # The caller's compiled policy (`router.policy`): models it removes are never chosen,
    # and its mode overrides pick the tier. None: no policy.
    policy: Policy | None = None


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """The answer: which catalog model serves the request, what to try next, and why.

    `tier` is None for a plain catalog id passed through. `params` are already translated
    for the request's API kind and are merged into the upstream call's body. `reason` lists
    every rule that fired, in order; `details` holds a strategy's evidence as data.
    """

    requested_model: str | None
    tier: str | None
    model: str
    litellm_model: str
    fallbacks: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    reason: tuple[str, ...] = ()
    free: bool = False
    # Strategy-specific evidence, e.g. the efficient tier's classification and scores.
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def chain(self) -> tuple[str, ...]:
        """The resolved model followed by its fallbacks: the order an adapter tries them."""
        return (self.model, *self.fallbacks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requested_model": self.requested_model,
            "tier": self.tier,
            "model": self.model,
            "litellm_model": self.litellm_model,
            "fallbacks": list(self.fallbacks),
            "params": self.params,
            "free": self.free,
            "reason": list(self.reason),
            **({"details": self.details} if self.details else {}),
        }
