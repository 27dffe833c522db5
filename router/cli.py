"""The `autotier` command line. Routing commands import only the pure core (fast);
heavier commands are dispatched lazily to the module that owns them."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from router.availability import Availability, ModelState, ModelStatus
from router.classification import LazyClassifier, needs_classification
from router.config import default_data_dir, load_config
from router.contract import Account, ApiKind, RoutingRequest, estimate_tokens
from router.core import RouterState, route
from router.errors import AutotierError, ConfigError

# Subcommands owned by other packages: name -> "module:function(argv) -> int".
LAZY_COMMANDS = {
    "train": "training.cli:main",
    "classify": "classifier.cli:main",
    "serve": "router.gateway.cli:serve",
    "accounts": "router.gateway.cli:accounts",
    "admin": "router.gateway.admin:main",
    "mock-upstream": "router.mock_upstream:main",
    "accuracy": "training.accuracy_tables:main",
    "calibrate": "training.calibrate:main",
    "bench": "training.bench.cli:main",
    "shadow": "training.shadow:main",
}


def _route_command(args: argparse.Namespace) -> int:
    config = load_config(args.data_dir)
    account = Account() if args.balance is None else Account(authenticated=True, balance=args.balance)
    tokens = args.prompt_tokens if args.prompt_tokens is not None else (
        estimate_tokens(args.prompt) if args.prompt else None
    )
    classification = None
    if args.prompt and needs_classification(config, args.model):
        classification = LazyClassifier(args.classifier).predict({"prompt": args.prompt}, args.mode)
    request = RoutingRequest(
        classification=classification,
        requested_model=args.model, api_kind=ApiKind(args.api), mode=args.mode,
        session_id=args.session, user_id=args.user, client_ip=args.ip, account=account,
        estimated_prompt_tokens=tokens,
        required_modalities=frozenset({"image"}) if args.image else frozenset(),
        previous_model=args.previous_model,
        policy=config.policies.effective(tuple(args.policy)),
    )
    unavailable = {m: ModelStatus(ModelState.UNAVAILABLE) for m in args.unavailable}
    decision = route(request, RouterState(config, Availability(unavailable)))
    print(json.dumps(decision.to_dict(), indent=None if args.compact else 2))
    return 0


def _models_command(args: argparse.Namespace) -> int:
    config = load_config(args.data_dir)

    def price(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    rows = [("model", "family", "open", "free", "$/Mtok in", "$/Mtok out", "context", "APIs")]
    for m in config.catalog:
        rows.append((
            m.id, m.family, "yes" if m.open_weight else "", "yes" if m.free else "",
            price(m.pricing.input), price(m.pricing.output),
            "-" if m.context_window is None else f"{m.context_window:,}",
            ",".join(a.value for a in m.api_kinds),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print()
    spelling = config.tiers.spellings[0]
    for name, tier in config.tiers.tiers.items():
        print(f"{spelling.format(tier=name):22} {tier.strategy:9} {tier.description}")
    for alias, target in config.tiers.aliases.items():
        print(f"{alias:22} alias of {spelling.format(tier=target)}")
    return 0


def _check_config_command(args: argparse.Namespace) -> int:
    from router.checks import check_files

    problems = check_files([Path(p) for p in args.paths])
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"ok: {len(args.paths)} file(s) valid")
    return 1 if problems else 0


def _catalog_command(args: argparse.Namespace) -> int:
    from router.catalog_sync import sync_catalog

    path = args.catalog or default_data_dir() / "catalog.yaml"
    changes = sync_catalog(path)
    for line in changes:
        print(line)
    print(f"{path}: {len(changes)} change(s)")
    return 0


def _tiers_diff_command(args: argparse.Namespace) -> int:
    from router.tier_changes import config_changes, mapping_snapshot, mapping_version

    configs = []
    for folder in (args.old, args.new):
        try:
            configs.append(load_config(folder))
        except ConfigError as exc:
            raise ConfigError([f"{folder}: {p}" for p in exc.problems]) from None
    old, new = (mapping_version(mapping_snapshot(c.tiers)) for c in configs)
    changes = config_changes(*configs)
    print(f"tier mapping {old} -> {new}" if changes or old != new else f"tier mapping {new}: no change")
    for line in changes:
        print(f"  {line}")
    if old != new and not changes:
        print("  (route names or layout only: every key resolves as before)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autotier", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None, help="folder with catalog.yaml and tiers.yaml")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("route", help="print the routing decision for a request as JSON")
    p.add_argument("--model", help="requested id, e.g. kilo-auto/frontier (omit: default tier)")
    p.add_argument("--mode", help="x-kilocode-mode header, e.g. plan, code")
    p.add_argument("--api", choices=[a.value for a in ApiKind], default="chat")
    p.add_argument("--session", help="x-kilocode-taskid / session id")
    p.add_argument("--user", help="user id")
    p.add_argument("--ip", help="client IP")
    p.add_argument("--balance", type=float, help="authenticated account with this balance ($); omit: anonymous")
    p.add_argument("--prompt", help="prompt text: estimates tokens; the efficient tier classifies it")
    p.add_argument("--classifier", metavar="PATH_OR_URI", help="classifier artefact (default: shipped)")
    p.add_argument("--prompt-tokens", type=int, help="estimated prompt tokens (overrides --prompt)")
    p.add_argument("--image", action="store_true", help="the request carries image input")
    p.add_argument("--previous-model", help="model that served this session's previous turn")
    p.add_argument("--unavailable", action="append", default=[], metavar="MODEL", help="treat MODEL as unavailable")
    p.add_argument("--policy", action="append", default=[], metavar="NAME",
                   help="route as a key with this policy or organisation of policies.yaml (repeatable)")
    p.add_argument("--compact", action="store_true", help="one-line JSON")
    p.set_defaults(func=_route_command)

    p = sub.add_parser("models", help="print the catalog and the tiers as a table")
    p.set_defaults(func=_models_command)

    p = sub.add_parser("check-config", help="validate data files (catalog, tiers, taxonomy)")
    p.add_argument("paths", nargs="+")
    p.set_defaults(func=_check_config_command)

    p = sub.add_parser("catalog", help="catalog maintenance")
    catalog_sub = p.add_subparsers(dest="catalog_command", required=True)
    s = catalog_sub.add_parser("sync", help="copy prices and windows from LiteLLM's cost map")
    s.add_argument("--catalog", type=Path, help="catalog file (default: data/catalog.yaml)")
    s.set_defaults(func=_catalog_command)

    p = sub.add_parser("tiers", help="tier mapping tools")
    tiers_sub = p.add_subparsers(dest="tiers_command", required=True)
    s = tiers_sub.add_parser("diff", help="what changed in the tier mapping between two config folders")
    s.add_argument("old", type=Path, help="folder with catalog.yaml and tiers.yaml (before)")
    s.add_argument("new", type=Path, help="folder with catalog.yaml and tiers.yaml (after)")
    s.set_defaults(func=_tiers_diff_command)

    for name in LAZY_COMMANDS:
        sub.add_parser(name, help=f"see `autotier {name} --help`", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in LAZY_COMMANDS:
        module, _, func = LAZY_COMMANDS[argv[0]].partition(":")
        return int(getattr(importlib.import_module(module), func)(argv[1:]) or 0)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except AutotierError as exc:
        kind = "config" if isinstance(exc, ConfigError) else exc.code
        print(json.dumps({"error": {"code": exc.code, "message": exc.message}})
              if kind != "config" else str(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
