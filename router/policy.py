"""Routing policies per key and per organisation (`data/policies.yaml`): which models a
key may be served by and which tier each agent mode goes to.

A policy file names rule sets (`policies`) and organisations (a list of policies every
member key gets). An account stores the names that apply to it (`autotier accounts
policy`). The rules are compiled against the catalog when the config loads: a `Policy`
holds the set of allowed model ids and, for every other model, why it is removed, so that
`route()` only does set lookups. The policy is an input of `route()` (on the request);
nothing here reads a clock, a file at request time or a global.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field

from router.catalog import Catalog, Model, load_catalog
from router.datafile import Strict, read_yaml, validate
from router.errors import ConfigError, PolicyError
from router.tiers import TiersFile, load_tiers

POLICY_FILE = "policies.yaml"
__all__ = ["Policy", "PolicyError", "PolicyRules", "PolicySet", "compile_policy", "load_policies"]


class MaxPrice(Strict):
    """US dollars per million tokens; a model above either cap is removed (free models cost 0)."""

    input: float | None = Field(default=None, ge=0)
    output: float | None = Field(default=None, ge=0)


class PolicyRules(Strict):
    """One named rule set. Every rule removes models; `modes` sends an agent mode
    (x-kilocode-mode) to another tier whenever the request names a tier."""

    description: str = ""
    modes: dict[str, str] = {}
    allow_models: tuple[str, ...] = ()
    deny_models: tuple[str, ...] = ()
    allow_providers: tuple[str, ...] = ()
    deny_providers: tuple[str, ...] = ()
    open_weight_only: bool = False
    no_free: bool = False
    no_logging: bool = False
    no_training: bool = False
    # With no_logging / no_training: also remove models whose data policy is not stated.
    unstated_data_policy: Literal["allow", "deny"] = "allow"
    max_price: MaxPrice = MaxPrice()


class Organisation(Strict):
    description: str = ""
    policies: tuple[str, ...] = Field(min_length=1)


class PoliciesFile(Strict):
    policies: dict[str, PolicyRules] = {}
    organisations: dict[str, Organisation] = {}


def _removal(rules: PolicyRules, model: Model) -> str | None:
    """Why `rules` remove `model`, or None when they allow it."""
    if rules.allow_models and model.id not in rules.allow_models:
        return "not in allow_models"
    if model.id in rules.deny_models:
        return "in deny_models"
    if rules.allow_providers and model.provider not in rules.allow_providers:
        return f"provider {model.provider} not in allow_providers"
    if model.provider in rules.deny_providers:
        return f"provider {model.provider} in deny_providers"
    if rules.open_weight_only and not model.open_weight:
        return "not open-weight"
    if rules.no_free and model.free:
        return "free model (free endpoints may log and train on prompts)"
    strict = rules.unstated_data_policy == "deny"
    data = model.data_policy
    if rules.no_logging and (data.may_log or (strict and data.may_log is None)):
        return "provider may log prompts" if data.may_log else "provider's logging not stated"
    if rules.no_training and (data.may_train or (strict and data.may_train is None)):
        return "provider may train on prompts" if data.may_train else "provider's training use not stated"
    cap, price = rules.max_price, model.pricing
    if not model.free:
        if cap.input is not None and (price.input is None or price.input > cap.input):
            return f"input price {price.input} > max {cap.input:g} USD/M"
        if cap.output is not None and (price.output is None or price.output > cap.output):
            return f"output price {price.output} > max {cap.output:g} USD/M"
    return None


@dataclass(frozen=True, slots=True)
class Policy:
    """A compiled policy: `allowed` model ids, the reason each other catalog model is
    removed, and mode -> tier overrides. Build with `compile_policy`."""

    name: str
    allowed: frozenset[str]
    removed: Mapping[str, str] = field(default_factory=dict)
    modes: Mapping[str, str] = field(default_factory=dict)

    def allows(self, model_id: str) -> bool:
        return model_id in self.allowed

    def why_removed(self, model_id: str) -> str:
        return self.removed.get(model_id, "not in the catalog the policy was compiled against")


def compile_policy(name: str, rule_sets: Iterable[tuple[str, PolicyRules]], catalog: Catalog) -> Policy:
    """Combine rule sets (every restriction applies; for `modes` a later set overrides an
    earlier one) into a `Policy` over `catalog`. Each removal names the rule set behind it."""
    sets = list(rule_sets)
    allowed: set[str] = set()
    removed: dict[str, str] = {}
    for model in catalog:
        why = next(((n, r) for n, r in ((n, _removal(rules, model)) for n, rules in sets) if r), None)
        if why is None:
            allowed.add(model.id)
        else:
            removed[model.id] = why[1] if why[0] == name else f"{why[1]} ({why[0]})"
    modes: dict[str, str] = {}
    for _, rules in sets:
        modes.update({k.strip().lower(): v for k, v in rules.modes.items()})
    return Policy(name, frozenset(allowed), removed, modes)


@dataclass(frozen=True)
class PolicySet:
    """Every named policy and organisation of a policies file, compiled. `effective(names)`
    is what the gateway passes to `route()` for a key."""

    named: Mapping[str, Policy] = field(default_factory=dict)
    # name -> the rule sets it stands for (a policy: itself; an organisation: its list)
    sources: Mapping[str, tuple[tuple[str, PolicyRules], ...]] = field(default_factory=dict)
    catalog: Catalog | None = None
    _combined: dict[tuple[str, ...], Policy] = field(default_factory=dict, compare=False, repr=False)

    def __contains__(self, name: object) -> bool:
        return name in self.named

    def names(self) -> list[str]:
        return list(self.named)

    def effective(self, names: tuple[str, ...]) -> Policy | None:
        """The policy for a key with these names (None for none). Raises PolicyError for a
        name the file does not define: a key must never lose its restrictions by a typo."""
        if not names:
            return None
        unknown = [n for n in names if n not in self.named]
        if unknown:
            raise PolicyError(unknown[0], f"this key's policy {unknown[0]!r} is not defined in {POLICY_FILE}; "
                              "ask the operator to fix the key (autotier accounts policy)", code="unknown_policy")
        if len(names) == 1:
            return self.named[names[0]]
        found = self._combined.get(names)
        if found is None:
            assert self.catalog is not None
            rule_sets = [pair for n in names for pair in self.sources[n]]
            # Bounded by the distinct name lists stored on accounts; compiled once each.
            found = self._combined[names] = compile_policy("+".join(names), rule_sets, self.catalog)
        return found


NO_POLICIES = PolicySet()


def check_policies(parsed: PoliciesFile, catalog: Catalog, tiers: TiersFile, filename: str = POLICY_FILE
                   ) -> list[str]:
    """Problems between a policies file and the catalog and tiers, one line each."""
    problems: list[str] = []
    providers = {m.provider for m in catalog}
    for name, rules in parsed.policies.items():
        base = f"policies.{name}"
        for mode, tier in rules.modes.items():
            if tier not in tiers.tiers:
                problems.append(f"{filename}: {base}.modes.{mode}: unknown tier {tier!r} "
                                f"(one of {sorted(tiers.tiers)})")
        for key in ("allow_models", "deny_models"):
            for i, model in enumerate(getattr(rules, key)):
                if model not in catalog:
                    problems.append(f"{filename}: {base}.{key}[{i}]: unknown model {model!r} (not in the catalog)")
        for key in ("allow_providers", "deny_providers"):
            for i, provider in enumerate(getattr(rules, key)):
                if provider not in providers:
                    problems.append(f"{filename}: {base}.{key}[{i}]: unknown provider {provider!r} "
                                    f"(one of {sorted(providers)})")
    for name, org in parsed.organisations.items():
        if name in parsed.policies:
            problems.append(f"{filename}: organisations.{name}: name already used by a policy")
        for i, policy in enumerate(org.policies):
            if policy not in parsed.policies:
                problems.append(f"{filename}: organisations.{name}.policies[{i}]: unknown policy {policy!r}")
    return problems


def build_policy_set(parsed: PoliciesFile, catalog: Catalog, tiers: TiersFile, filename: str = POLICY_FILE
                     ) -> PolicySet:
    """Validate and compile a parsed policies file; raises ConfigError listing every problem,
    including a policy or organisation that leaves no catalog model at all."""
    problems = check_policies(parsed, catalog, tiers, filename)
    if problems:
        raise ConfigError(problems)
    sources: dict[str, tuple[tuple[str, PolicyRules], ...]] = {
        name: ((name, rules),) for name, rules in parsed.policies.items()
    }
    sources.update({
        name: tuple((p, parsed.policies[p]) for p in org.policies) for name, org in parsed.organisations.items()
    })
    named = {name: compile_policy(name, sets, catalog) for name, sets in sources.items()}
    kind = {**dict.fromkeys(parsed.policies, "policies"), **dict.fromkeys(parsed.organisations, "organisations")}
    empty = [f"{filename}: {kind[n]}.{n}: removes every catalog model" for n, p in named.items() if not p.allowed]
    if empty:
        raise ConfigError(empty)
    return PolicySet(named, sources, catalog)


def load_policies(path: Path, catalog: Catalog, tiers: TiersFile) -> PolicySet:
    """Read `policies.yaml` (absent: no policies); raises ConfigError."""
    if not path.exists():
        return NO_POLICIES
    data = read_yaml(path)
    parsed = validate(PoliciesFile, {} if data is None else data, path.name)
    return build_policy_set(parsed, catalog, tiers, path.name)


def check_policies_file(path: Path) -> None:
    """`autotier check-config` for a policies file: validated against the catalog and tiers
    beside it (or the default data folder's)."""
    from router.config import default_data_dir  # router.config imports this module

    def beside(name: str) -> Path:
        local = path.with_name(name)
        return local if local.exists() else default_data_dir() / name

    load_policies(path, load_catalog(beside("catalog.yaml")), load_tiers(beside("tiers.yaml")))


# ---- applied by route() -----------------------------------------------------------------
def policy_tier(policy: Policy, tier: str, mode: str | None, trace: list[str]) -> str:
    """The tier after the policy's mode overrides (`tier` when none applies)."""
    key = mode.strip().lower() if mode else ""
    target = policy.modes.get(key) if key else None
    if target is None or target == tier:
        trace.append(f"policy {policy.name!r} applies")
        return tier
    trace.append(f"policy {policy.name!r}: mode {key!r} -> tier {target} (instead of {tier})")
    return target


def check_model(policy: Policy, model_id: str) -> None:
    """A catalog model requested by id must be one the policy allows; raises PolicyError."""
    if not policy.allows(model_id):
        raise PolicyError(policy.name, f"policy {policy.name!r} does not allow {model_id}: "
                          f"{policy.why_removed(model_id)}; GET /v1/models lists what this key may use")


def policy_filter(policy: Policy, tier: str, candidates: tuple[str, ...], trace: list[str]) -> tuple[str, ...]:
    """`candidates` without the models the policy removes (each skip in the trace); raises
    PolicyError naming the policy when none is left."""
    kept = tuple(m for m in candidates if m in policy.allowed)
    if len(kept) == len(candidates):
        return candidates
    for dropped in (m for m in candidates if m not in policy.allowed):
        trace.append(f"policy {policy.name!r}: skip {dropped}: {policy.why_removed(dropped)}")
    if not kept:
        removed = "; ".join(f"{m}: {policy.why_removed(m)}" for m in candidates)
        raise PolicyError(policy.name, f"policy {policy.name!r} leaves no {tier} model ({removed}); "
                          "ask for another tier or GET /v1/models for what this key may use")
    return kept
