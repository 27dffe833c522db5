"""`autotier accounts policy ID [NAME...] [--clear]`: show, set or clear the policies of
one key (names from `data/policies.yaml`; router.policy). Names are checked against the
policies file before they are stored, so a key never names a policy that does not exist."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from router.config import load_config
from router.errors import ConfigError
from router.gateway.accounts import Ledger
from router.policy import POLICY_FILE, Policy


def add_policy_parser(sub: Any) -> None:
    p = sub.add_parser("policy", help=f"show, set or clear the policies of a key (names from {POLICY_FILE})")
    p.add_argument("id", type=int)
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="policies or organisations; several: every restriction applies, later mode overrides win")
    p.add_argument("--clear", action="store_true", help="remove every policy from the key")
    p.add_argument("--data-dir", default=None, help=f"folder with {POLICY_FILE} (default: the data folder)")
    p.add_argument("--json", action="store_true")


def describe(policy: Policy | None, catalog_size: int) -> dict[str, Any]:
    if policy is None:
        return {"policy": None, "allowed_models": None, "modes": {}}
    return {"policy": policy.name, "allowed_models": sorted(policy.allowed), "modes": dict(policy.modes),
            "summary": f"{len(policy.allowed)} of {catalog_size} catalog models"}


def policy_command(ledger: Ledger, args: argparse.Namespace) -> int:
    """Show (no names), set (names) or clear (--clear) one account's policy; 1 for an unknown
    account, 2 for unknown names or an invalid policies file."""
    if args.clear and args.names:
        print("autotier accounts policy: give names or --clear, not both", file=sys.stderr)
        return 2
    try:
        config = load_config(Path(args.data_dir) if args.data_dir else None)
    except ConfigError as exc:
        print(f"autotier accounts policy: {exc}", file=sys.stderr)
        return 2
    names = tuple(dict.fromkeys(args.names))
    unknown = [n for n in names if n not in config.policies]
    if unknown:
        known = ", ".join(config.policies.names()) or f"none: {POLICY_FILE} defines no policy"
        print(f"autotier accounts policy: {POLICY_FILE}: no policy or organisation {unknown[0]!r} "
              f"(defined: {known})", file=sys.stderr)
        return 2
    if names or args.clear:
        ledger.set_policy(args.id, names)  # an unknown id changes nothing and is reported below
    row = next((r for r in ledger.accounts() if r.id == args.id), None)
    if row is None:
        print(f"autotier accounts: no account {args.id}", file=sys.stderr)
        return 1
    policy = config.policies.effective(row.policy) if all(n in config.policies for n in row.policy) else None
    shown = describe(policy, len(config.catalog))
    shown["names"] = list(row.policy)
    if args.json:
        print(json.dumps({"id": row.id, **shown}))
    elif not row.policy:
        print(f"account {row.id}: no policy (every model of every tier)")
    else:
        modes = ", ".join(f"{m} -> {t}" for m, t in shown["modes"].items()) or "none"
        usable = shown.get("summary") or f"a name is not in {POLICY_FILE}: its requests are refused"
        print(f"account {row.id}: policy {' + '.join(row.policy)} ({usable}; mode overrides: {modes})")
    return 0
