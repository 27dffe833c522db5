"""Tier configuration (`data/tiers.yaml`): which virtual ids exist and how each tier picks.

A tier names a `strategy` (see `router.strategies`) plus that strategy's settings. Rule
tiers choose one of their `routes` by a key taken from the request: the mode header
(`by: mode`), the API kind (`by: api`) or the account (`by: balance`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from router.datafile import Strict, read_yaml, validate

Effort = Literal["minimal", "low", "medium", "high"]


class TierParams(Strict):
    """API-neutral parameters; `router.params` translates them per API kind."""

    reasoning_effort: Effort | None = None
    reasoning_enabled: bool | None = None
    verbosity: Literal["low", "medium", "high"] | None = None

    def merged(self, override: TierParams) -> TierParams:
        """These parameters with every field `override` sets taking precedence."""
        return self.model_copy(update=override.model_dump(exclude_none=True))


class Route(Strict):
    """One target model, the models to try after it, and parameters for this target."""

    model: str
    fallbacks: tuple[str, ...] = ()
    params: TierParams = TierParams()


class RuleTier(Strict):
    """Pick a route by a request key. `keys` maps key values (modes, API kinds, `paid` /
    `free`) to route names; anything unmapped or missing takes `default_route`."""

    strategy: Literal["rules"]
    description: str
    by: Literal["mode", "api", "balance"]
    routes: dict[str, Route] = Field(min_length=1)
    keys: dict[str, str] = {}
    default_route: str
    params: TierParams = TierParams()
    open_weight_only: bool = False
    free_only: bool = False

    @model_validator(mode="after")
    def _routes_exist(self) -> RuleTier:
        names = set(self.routes)
        for key, route in [*self.keys.items(), ("default_route", self.default_route)]:
            if route not in names:
                raise ValueError(f"{key!r} names route {route!r}, not one of {sorted(names)}")
        return self


class WeightedCandidate(Strict):
    model: str
    weight: float = Field(default=1.0, gt=0)


class StickyTier(Strict):
    """Session affinity by rendezvous hashing over weighted candidates; the rest of the
    ranking is the fallback chain; `last_resort` models are appended after it."""

    strategy: Literal["sticky"]
    description: str
    candidates: tuple[WeightedCandidate, ...] = Field(min_length=1)
    last_resort: tuple[str, ...] = ()
    params: TierParams = TierParams()
    free_only: bool = False
    open_weight_only: bool = False


class QualityBar(Strict):
    """`absolute`: expected accuracy >= value; `relative`: >= value x best candidate's;
    `margin`: >= best candidate's - value."""

    kind: Literal["absolute", "relative", "margin"] = "relative"
    value: float = Field(default=0.95, gt=0, le=1)


class EfficientTier(Strict):
    """Cheapest candidate proven adequate by an accuracy table (`router.efficient`).

    `table` is the accuracy table's path relative to the data folder. Cost per request is
    estimated from catalog prices: the prompt's estimated tokens (`default_prompt_tokens`
    when unknown) plus `output_tokens` expected for the predicted difficulty. When the
    session stays on the model that served its previous turn, `cached_prompt_share` of the
    prompt is billed at the catalog's cached-input price (where it lists one). `low_gate`
    is the P(low) a request needs before candidates are judged on low-difficulty cells. The envelope
    flags (`free_only`, `open_weight_only`) limit the candidates like any tier's.
    """

    strategy: Literal["efficient"]
    description: str
    candidates: tuple[str, ...] = Field(min_length=1)
    table: str = "accuracy/production.json"
    quality_bar: QualityBar = QualityBar()
    selection: Literal["cost_per_accuracy", "best_accuracy"] = "cost_per_accuracy"
    switch_cost_factor: float = Field(default=1.5, ge=1)
    output_tokens: dict[str, int] = Field(
        default_factory=lambda: {"low": 500, "medium": 1500, "high": 4000}, min_length=1
    )
    default_prompt_tokens: int = Field(default=2000, gt=0)
    cached_prompt_share: float = Field(default=0.0, ge=0, le=1)
    # P(low) a request needs to be judged as low-difficulty work; below it candidates are
    # judged on the medium and high cells (router.strategies.judged_difficulty). None: the
    # classifier's difficulty probabilities as they are.
    low_gate: float | None = Field(default=None, gt=0, le=1)
    params: TierParams = TierParams()
    free_only: bool = False
    open_weight_only: bool = False


TierConfig = Annotated[RuleTier | StickyTier | EfficientTier, Field(discriminator="strategy")]


class Defaults(Strict):
    """Requests with no model or a generic auto id: `with_balance` for an authenticated
    account with credit, `otherwise` for everyone else."""

    generic_ids: tuple[str, ...] = ()
    with_balance: str
    otherwise: str


class TiersFile(Strict):
    spellings: tuple[str, ...] = Field(min_length=1)
    aliases: dict[str, str] = {}
    defaults: Defaults
    tiers: dict[str, TierConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _spellings_have_placeholder(self) -> TiersFile:
        for spelling in self.spellings:
            if "{tier}" not in spelling:
                raise ValueError(f"spelling {spelling!r} must contain '{{tier}}'")
        return self


def load_tiers(path: Path) -> TiersFile:
    """Read and validate a tiers file on its own (cross-checks with the catalog happen in
    `router.config`); raises ConfigError."""
    return validate(TiersFile, read_yaml(path), path.name)
