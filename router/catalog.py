"""The model catalog (`data/catalog.yaml`): every real model autotier can route to.

Prices and windows are written by `autotier catalog sync` from LiteLLM's bundled cost map,
so reading a price never imports LiteLLM.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from router.contract import ApiKind
from router.datafile import Strict, read_yaml, validate
from router.errors import ConfigError


class Pricing(Strict):
    """US dollars per million tokens; null where no public figure exists (see `note`).
    `source`: where an operator-set price comes from, required when `catalog sync` did not
    write it (the model has no `cost_map_key`)."""

    input: float | None = Field(default=None, ge=0)
    output: float | None = Field(default=None, ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    source: str | None = None


class Capabilities(Strict):
    tools: bool = False
    reasoning: bool = False
    vision: bool = False


class DataPolicy(Strict):
    """May the provider log or train on prompts? null: not publicly stated."""

    may_log: bool | None = None
    may_train: bool | None = None
    note: str


class Source(Strict):
    """Where the synced figures came from."""

    cost_map_key: str
    litellm_version: str


class Model(Strict):
    id: str = Field(min_length=3)
    name: str
    litellm_model: str
    provider: str
    family: str
    open_weight: bool
    free: bool
    pricing: Pricing = Pricing()
    context_window: int | None = Field(default=None, gt=0)
    max_output: int | None = Field(default=None, gt=0)
    capabilities: Capabilities = Capabilities()
    api_kinds: tuple[ApiKind, ...] = (ApiKind.CHAT,)
    data_policy: DataPolicy
    # The cost-map key `catalog sync` reads; null when LiteLLM's map has no entry.
    cost_map_key: str | None = None
    source: Source | None = None
    note: str | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if value != value.strip() or " " in value:
            raise ValueError(f"model id must not contain spaces, got {value!r}")
        return value

    @model_validator(mode="after")
    def _free_costs_nothing(self) -> Model:
        priced = [p for p in (self.pricing.input, self.pricing.output) if p]
        if self.free and priced:
            raise ValueError(f"{self.id}: a free model cannot have a non-zero price")
        return self

    @model_validator(mode="after")
    def _paid_has_a_price(self) -> Model:
        # A paid model without a price would be served and never billed (docs/security.md).
        if self.free:
            return self
        if self.pricing.input is None or self.pricing.output is None:
            raise ValueError(f"{self.id}: a paid model needs pricing.input and pricing.output (US dollars per "
                             "million tokens); set them with pricing.source saying where they come from")
        if self.source is None and not self.pricing.source:
            raise ValueError(f"{self.id}: an operator-set price needs pricing.source (where the figures come from)")
        return self

    def cost_usd(self, tokens_in: int, tokens_out: int) -> float | None:
        """Price of one call from catalog figures; None when a needed price is unknown."""
        if self.free:
            return 0.0
        if self.pricing.input is None or self.pricing.output is None:
            return None
        return (tokens_in * self.pricing.input + tokens_out * self.pricing.output) / 1e6


class CatalogFile(Strict):
    models: tuple[Model, ...] = Field(min_length=1)


class Catalog:
    """Models by id, in file order."""

    def __init__(self, models: tuple[Model, ...], filename: str = "catalog.yaml"):
        self._models: dict[str, Model] = {}
        problems = []
        for index, model in enumerate(models):
            if model.id in self._models:
                problems.append(f"{filename}: models[{index}].id: duplicate id {model.id!r}")
            self._models[model.id] = model
        if problems:
            raise ConfigError(problems)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._models

    def __getitem__(self, model_id: str) -> Model:
        return self._models[model_id]

    def __iter__(self) -> Iterator[Model]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def get(self, model_id: str) -> Model | None:
        return self._models.get(model_id)


def load_catalog(path: Path) -> Catalog:
    """Read and validate a catalog file; raises ConfigError."""
    parsed = validate(CatalogFile, read_yaml(path), path.name)
    return Catalog(parsed.models, path.name)
