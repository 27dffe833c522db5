"""`autotier serve` and `autotier accounts`: thin wrappers over the gateway package.
LiteLLM is imported by the app at start-up, never here."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from router.errors import ConfigError

DEFAULT_DB = "autotier.db"


def _db_default() -> Path:
    return Path(os.environ.get("AUTOTIER_DB", DEFAULT_DB))


def _add_database_url(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", default=os.environ.get("AUTOTIER_DATABASE_URL") or None, metavar="URL",
                   help="postgresql://... for accounts and the ledger instead of --db "
                        "(default $AUTOTIER_DATABASE_URL)")


def _serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="autotier serve", description="Run the gateway.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    p.add_argument("--demo", action="store_true",
                   help="start the mock upstream and point every catalog model at it (no keys needed)")
    p.add_argument("--mock-upstream", metavar="URL",
                   help="point every catalog model at this already running mock upstream")
    p.add_argument("--db", type=Path, default=_db_default(), help="SQLite file (default ./autotier.db)")
    _add_database_url(p)
    p.add_argument("--redis-url", default=os.environ.get("AUTOTIER_REDIS_URL") or None, metavar="URL",
                   help="redis://... shared by several gateway processes for cooldowns, rate limits and "
                        "sessions (default $AUTOTIER_REDIS_URL; none: in-process)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="gateway processes serving the port (default: the number of cores); without "
                        "--redis-url they share rate limits, cooldowns and sessions through DB.live.db")
    p.add_argument("--data-dir", type=Path, default=None, help="folder with catalog.yaml and tiers.yaml")
    p.add_argument("--anonymous-per-hour", type=int, default=200,
                   help="anonymous requests per hour per client IP on free models")
    p.add_argument("--trusted-proxy", action="append", default=[], metavar="CIDR",
                   help="peer allowed to set X-Forwarded-For (repeatable, or comma-separated)")
    p.add_argument("--max-body-bytes", type=int, default=4 * 1024 * 1024)
    p.add_argument("--upstream-timeout", type=float, default=600.0, help="seconds")
    p.add_argument("--upstream-client", choices=("auto", "litellm"),
                   default=os.environ.get("AUTOTIER_UPSTREAM_CLIENT") or "auto",
                   help="auto: chat completions to OpenAI-compatible providers (openai/, openrouter/) "
                        "without LiteLLM's response objects, the rest through LiteLLM; litellm: "
                        "everything through LiteLLM (default $AUTOTIER_UPSTREAM_CLIENT or auto)")
    p.add_argument("--cooldown", type=float, default=30.0,
                   help="seconds a failing model is skipped when the provider sends no Retry-After")
    p.add_argument("--cooldown-after", type=int, default=3, metavar="N",
                   help="cool a model down only after provider failures from N distinct callers (accounts or "
                        "IPs) within --cooldown-window seconds (1: after any failure)")
    p.add_argument("--cooldown-window", type=float, default=60.0, help="seconds")
    p.add_argument("--header-timeout", type=float, default=30.0,
                   help="seconds a client has to send a request's headers (408 and close after)")
    p.add_argument("--body-timeout", type=float, default=60.0,
                   help="seconds a client has to send a request's body (408 after)")
    p.add_argument("--failures-per-minute", type=int, default=120,
                   help="failed requests (4xx) one IP (IPv6: one /64) may make per minute before it gets 429s")
    p.add_argument("--feedback-per-minute", type=int, default=60,
                   help="feedback calls one API key may make per minute before it gets 429s")
    p.add_argument("--reload-poll", type=float, default=1.0, help="seconds between config file checks")
    p.add_argument("--classifier", default=None, metavar="PATH_OR_URI",
                   help="efficient tier's classifier: artefact folder or models:/ URI (default: shipped)")
    p.add_argument("--retry-window", type=float, default=120.0, metavar="SECONDS",
                   help="the same request sent again within this many seconds marks the earlier reply "
                        "'retried' (implicit feedback)")
    p.add_argument("--capture-rate", type=float, default=float(os.environ.get("AUTOTIER_CAPTURE_RATE") or 0),
                   metavar="FLOAT", help="share (0..1) of proxied requests whose redacted user text is kept "
                                         "for retraining (default $AUTOTIER_CAPTURE_RATE or 0: off)")
    p.add_argument("--capture-retention-days", type=float,
                   default=float(os.environ.get("AUTOTIER_CAPTURE_RETENTION_DAYS") or 30), metavar="DAYS",
                   help="captures are deleted after this many days (default $AUTOTIER_CAPTURE_RETENTION_DAYS or 30)")
    p.add_argument("--capture-context", action="store_true",
                   default=os.environ.get("AUTOTIER_CAPTURE_CONTEXT", "").lower() in ("1", "true", "yes"),
                   help="also keep the session's first user text (redacted) with each capture")
    p.add_argument("--capture-redact", default=os.environ.get("AUTOTIER_CAPTURE_REDACT") or None,
                   metavar="MODULE:FUNCTION",
                   help="an extra redaction fn(text) -> text run after the built-in one; if it raises, the "
                        "capture is dropped (default $AUTOTIER_CAPTURE_REDACT)")
    p.add_argument("--log-level", default="INFO")
    return p


def serve(argv: list[str]) -> int:
    args = _serve_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from router.gateway import demo, workers
    from router.gateway.capture import CapturePolicy
    from router.gateway.settings import GatewaySettings, parse_networks

    if args.workers is not None and args.workers < 1:
        print("autotier serve: --workers must be at least 1", file=sys.stderr)
        return 2
    n_workers = args.workers or workers.default_workers()
    child = None
    mock = args.mock_upstream
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal; with the default
    # handler that would end the process before the `finally` below stops the demo's mock.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if args.demo and not mock:
            child, mock = demo.start_mock_upstream(args.host)
            print(f"demo: mock upstream at {mock}", flush=True)
        # Several workers without Redis share live state through a file next to the ledger.
        live_db = args.db.with_name(args.db.stem + ".live.db") if n_workers > 1 and not args.redis_url else None
        settings = GatewaySettings(
            data_dir=args.data_dir, db_path=args.db, mock_upstream=mock,
            database_url=args.database_url, redis_url=args.redis_url, live_db_path=live_db,
            anonymous_per_hour=args.anonymous_per_hour,
            trusted_proxies=parse_networks(args.trusted_proxy), max_body_bytes=args.max_body_bytes,
            upstream_timeout_s=args.upstream_timeout, upstream_client=args.upstream_client,
            cooldown_s=args.cooldown, cooldown_after_failures=args.cooldown_after,
            cooldown_window_s=args.cooldown_window, failures_per_minute=args.failures_per_minute,
            header_timeout_s=args.header_timeout, body_timeout_s=args.body_timeout,
            reload_poll_s=args.reload_poll, classifier=args.classifier, retry_window_s=args.retry_window,
            feedback_per_minute=args.feedback_per_minute,
            capture_rate=args.capture_rate, capture_retention_days=args.capture_retention_days,
            capture_context=args.capture_context, capture_redact=args.capture_redact,
        )
        # Refuse a bad rate, retention or hook now, with one line, not in each worker.
        CapturePolicy.from_settings(args.capture_rate, args.capture_retention_days, args.capture_context,
                                    args.capture_redact)
        lines: list[str] = []
        if args.demo:
            stored = demo.key_file(args.db)
            key, created = demo.demo_key(args.database_url or args.db, stored)
            lines = demo.client_lines("{url}", key, stored, created)

        def announce(url: str) -> None:
            shown = f" ({n_workers} workers)" if n_workers > 1 else ""
            print(f"autotier gateway listening on {url}{shown}", flush=True)
            for line in lines:
                print(line.replace("{url}", url), flush=True)
            where = "--database-url URL" if args.database_url else f"--db {args.db}"
            print(f"dashboard: {url}/dashboard (admin token: `autotier admin {where} token`"
                  f"{' or $AUTOTIER_ADMIN_TOKEN' if os.environ.get('AUTOTIER_ADMIN_TOKEN') else ''})", flush=True)

        if n_workers > 1:
            return workers.run_workers(settings, args.host, args.port, args.log_level, n_workers, announce)
        return workers.run_single(settings, args.host, args.port, args.log_level, announce)
    except (ConfigError, ValueError, RuntimeError, OSError) as exc:
        print(f"autotier serve: {exc}", file=sys.stderr)
        return 2
    finally:
        if child is not None:
            demo.stop(child)


def accounts(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="autotier accounts", description="API keys, balances and usage.")
    p.add_argument("--db", type=Path, default=_db_default(), help="SQLite file (default ./autotier.db)")
    _add_database_url(p)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create", help="create an account and print its API key (shown once)")
    c.add_argument("--balance", type=float, default=0.0, help="starting balance in US dollars")
    c.add_argument("--json", action="store_true")
    ls = sub.add_parser("list", help="list accounts")
    ls.add_argument("--json", action="store_true")
    c.add_argument("--allow-field", action="append", default=[], metavar="NAME",
                   help="a provider field this key may send beyond the default allow-list (repeatable; "
                        "e.g. provider, plugins, server_tools); see docs/security.md")
    f = sub.add_parser("fields", help="set the extra provider fields an account may send (none: clear)")
    f.add_argument("id", type=int)
    f.add_argument("names", nargs="*", metavar="NAME")
    u = sub.add_parser("usage", help="print the latest usage-ledger rows as JSON lines")
    u.add_argument("--limit", type=int, default=50)
    from router.gateway.account_policy import add_policy_parser, policy_command

    add_policy_parser(sub)
    args = p.parse_args(argv)

    from router.gateway.accounts import Ledger

    try:
        ledger = Ledger(args.database_url or args.db)
    except RuntimeError as exc:
        print(f"autotier accounts: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "create":
            row, key = ledger.create_account(args.balance, frozenset(args.allow_field))
            if args.json:
                print(json.dumps({"id": row.id, "key": key, "balance": row.balance,
                                  "allowed_fields": sorted(row.allowed_fields)}))
            else:
                print(key)
                print(f"account {row.id} created with balance {row.balance:.2f} USD "
                      "(the key is shown once; only its hash is stored)", file=sys.stderr)
        elif args.command == "fields":
            if not ledger.set_allowed_fields(args.id, frozenset(args.names)):
                print(f"autotier accounts: no account {args.id}", file=sys.stderr)
                return 1
            print(f"account {args.id} may send: {', '.join(sorted(args.names)) or 'the default fields only'}")
        elif args.command == "policy":
            return policy_command(ledger, args)
        elif args.command == "list":
            rows = ledger.accounts()
            if args.json:
                print(json.dumps([{"id": r.id, "key_hint": r.key_hint, "balance": r.balance,
                                   "created": r.created, "allowed_fields": sorted(r.allowed_fields),
                                   "policy": list(r.policy)} for r in rows]))
            else:
                print(f"{'id':>4}  {'key':12}  {'balance (USD)':>14}  created")
                for r in rows:
                    created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.created))
                    print(f"{r.id:>4}  {r.key_hint:12}  {r.balance:>14.6f}  {created}")
        else:
            for entry in ledger.usage(args.limit):
                print(json.dumps(entry))
    finally:
        ledger.close()
    return 0
