"""Command line: serve, seed, reset, show and faults. Run `python -m okta_emulator --help`."""

import argparse
import json
import logging
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

from .settings import DEFAULT_PORT, DEFAULT_STATE, Settings

logger = logging.getLogger("okta_emulator")


def _positive_float(text):
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def _public_url(text):
    """Check a --public-url value and return it without a trailing slash."""
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a valid URL: expected an http:// or https:// URL such as "
            "https://127.0.0.1:8201"
        )
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(
            f"{text!r} must not have a path, query or fragment: Okta's org URL is scheme, "
            "host and port only, such as https://127.0.0.1:8201"
        )
    try:
        port = parts.port
    except ValueError:  # not a number, or outside 0 to 65535
        port = -1
    if port is not None and not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} has an invalid port: expected 1 to 65535")
    return f"{parts.scheme}://{parts.netloc}"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m okta_emulator", description="A local Okta org for development and tests."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def add_state(sub):
        sub.add_argument(
            "--state", default=DEFAULT_STATE, help=f"SQLite state file (default {DEFAULT_STATE})"
        )

    serve = commands.add_parser(
        "serve", help="serve the org over HTTP (seeds the demo org into an empty state)"
    )
    add_state(serve)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--seed", metavar="FILE", help="seed this org file first, replacing the state"
    )
    serve.add_argument("--threads", type=int, default=8, help="waitress worker threads (default 8)")
    serve.add_argument("--no-rate-limits", action="store_true", help="start with rate limiting off")
    serve.add_argument(
        "--rate-limit-window",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="length of a rate-limit window in seconds (default 60, Okta's)",
    )
    serve.add_argument(
        "--public-url",
        type=_public_url,
        metavar="URL",
        help=(
            "base URL that clients use, such as https://127.0.0.1:8201 behind a TLS terminator. "
            "The issuer and every URL in responses start with it (default: the request's URL)"
        ),
    )
    serve.add_argument("--no-hooks", action="store_true", help="do not deliver event hooks")
    serve.add_argument("--log-level", default="INFO", help="logging level (default INFO)")

    seed = commands.add_parser(
        "seed", help="replace the state with an org file (the shipped demo org by default)"
    )
    add_state(seed)
    seed.add_argument(
        "file", nargs="?", help="org YAML file (default okta_emulator/orgs/demo.yaml)"
    )

    reset = commands.add_parser("reset", help="restore the state to its last seed")
    add_state(reset)

    show = commands.add_parser("show", help="print a summary of the state, or one kind of object")
    add_state(show)
    show.add_argument(
        "what",
        nargs="?",
        default="summary",
        choices=["summary", "users", "groups", "apps", "clients", "tokens", "events", "hooks"],
    )

    faults = commands.add_parser(
        "faults", help="inspect or change fault injection of a running emulator"
    )
    faults.add_argument("--url", default=f"http://127.0.0.1:{DEFAULT_PORT}", help="emulator URL")
    faults.add_argument(
        "--token",
        default=os.environ.get("OKTA_EMULATOR_API_TOKEN"),
        help="API token (default: $OKTA_EMULATOR_API_TOKEN, else the demo org's token)",
    )
    actions = faults.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="print the active rules")
    add = actions.add_parser("add", help="add a rule")
    add.add_argument(
        "--path",
        required=True,
        help="path pattern, fnmatch syntax, e.g. '/api/v1/groups/*/users/*'",
    )
    add.add_argument("--methods", nargs="+", help="only these HTTP methods (default all)")
    outcome = add.add_mutually_exclusive_group()
    outcome.add_argument(
        "--status", type=int, help="HTTP status to return, e.g. 500, 503, 429, 401"
    )
    outcome.add_argument(
        "--drop", action="store_true", help="close the connection without an answer"
    )
    add.add_argument(
        "--fraction", type=float, default=1.0, help="share of matching requests to fail (default 1)"
    )
    add.add_argument(
        "--latency-ms", type=float, default=0, help="delay every matching request by this many ms"
    )
    add.add_argument("--count", type=int, help="stop after failing this many requests")
    remove = actions.add_parser("remove", help="remove one rule")
    remove.add_argument("rule_id", type=int)
    actions.add_parser("clear", help="remove every rule and hook fault")
    hooks = actions.add_parser("hooks", help="duplicate or reorder event hook deliveries")
    hooks.add_argument(
        "--duplicate", type=float, metavar="FRACTION", help="share of deliveries sent twice"
    )
    hooks.add_argument(
        "--reorder", choices=["on", "off"], help="send each batch's events newest first"
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    level = getattr(args, "log_level", "INFO")
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    handler = {
        "serve": cmd_serve,
        "seed": cmd_seed,
        "reset": cmd_reset,
        "show": cmd_show,
        "faults": cmd_faults,
    }
    try:
        return handler[args.command](args) or 0
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


class CommandError(Exception):
    pass


def _open_store(path):
    from .store import Store

    return Store(path)


def _seed(store, file):
    from .seed import DEMO_ORG, SeedError, load_file, seed_store

    try:
        return seed_store(store, load_file(file or DEMO_ORG))
    except SeedError as error:
        raise CommandError(str(error)) from None


def cmd_seed(args):
    store = _open_store(args.state)
    counts = _seed(store, args.file)
    print(f"seeded {args.state}: " + ", ".join(f"{count} {name}" for name, count in counts.items()))


def cmd_reset(args):
    store = _open_store(args.state)
    try:
        store.reset()
    except RuntimeError as error:
        raise CommandError(str(error)) from None
    print(f"reset {args.state} to its seed")


def cmd_serve(args):
    import waitress

    from .app import create_app
    from .hook_delivery import HookDeliverer

    store = _open_store(args.state)
    if args.seed:
        _seed(store, args.seed)
    elif not store.has_snapshot():
        logger.info("state %s is empty: seeding the demo org", args.state)
        _seed(store, None)
    settings = Settings(
        rate_limits_enabled=not args.no_rate_limits,
        rate_limit_window_seconds=args.rate_limit_window,
        hook_deliveries_enabled=not args.no_hooks,
        public_url=args.public_url,
    )
    app = create_app(store, settings)
    org_url = args.public_url or f"http://{args.host}:{args.port}"
    runtime = app.extensions["okta_emulator"]
    runtime.hooks = HookDeliverer(store, settings, runtime.faults, org_url)
    runtime.hooks.start()
    logger.info(
        "Okta emulator listening on http://%s:%s as %s (state %s, rate limits %s)",
        args.host,
        args.port,
        org_url,
        args.state,
        "on" if settings.rate_limits_enabled else "off",
    )
    try:
        waitress.serve(
            app,
            host=args.host,
            port=args.port,
            threads=args.threads,
            ident="okta_emulator",
            clear_untrusted_proxy_headers=True,
            # A 200-user page is about 150 KB; sending it in few large writes instead of
            # waitress's default 18,000-byte ones costs measurably less CPU.
            send_bytes=262144,
        )
    finally:
        runtime.hooks.stop()
        logger.info("Okta emulator stopped")


def cmd_show(args):
    store = _open_store(args.state)
    if args.what == "summary":
        for table in (
            "users",
            "groups",
            "group_members",
            "apps",
            "app_users",
            "app_groups",
            "oauth_clients",
            "api_tokens",
            "log_events",
            "event_hooks",
        ):
            print(f"{table:16} {store.one(f'SELECT count(*) FROM {table}')[0]}")
        print(f"{'seeded':16} {'yes' if store.has_snapshot() else 'no'}")
        return
    queries = {
        "users": "SELECT id, status, json_extract(profile, '$.login') AS login, "
        "json_extract(profile, '$.department') AS department FROM users ORDER BY login",
        "groups": "SELECT g.id, g.type, json_extract(g.profile, '$.name') AS name, "
        "(SELECT count(*) FROM group_members m WHERE m.group_id = g.id) AS members FROM groups g ORDER BY name",
        "apps": "SELECT a.id, a.status, a.sign_on_mode, a.label, "
        "(SELECT count(*) FROM app_users u WHERE u.app_id = a.id) AS users FROM apps a ORDER BY a.label",
        "clients": "SELECT client_id, client_name, redirect_uris, post_logout_redirect_uris FROM oauth_clients",
        "tokens": "SELECT name, substr(token, 1, 6) || '…' AS token, user_id FROM api_tokens",
        "events": "SELECT seq, published, event_type FROM log_events ORDER BY seq DESC LIMIT 50",
        "hooks": "SELECT id, status, verification_status, uri, event_types FROM event_hooks",
    }
    for row in store.all(queries[args.what]):
        print("  ".join(str(value) for value in tuple(row)))


def _admin_call(args, method, path, body=None):
    token = args.token
    if not token:
        from .orgs.generate_demo import API_TOKEN

        token = API_TOKEN
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        args.url.rstrip("/") + path,
        data=data,
        method=method,
        headers={
            "Authorization": f"SSWS {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise CommandError(
            f"{method} {path} failed with HTTP {error.code}: {error.read().decode(errors='replace')}"
        ) from None
    except urllib.error.URLError as error:
        raise CommandError(f"cannot reach the emulator at {args.url}: {error.reason}") from None


def cmd_faults(args):
    if args.action == "list":
        result = _admin_call(args, "GET", "/_emulator/faults")
    elif args.action == "add":
        spec = {"path": args.path, "fraction": args.fraction}
        for key, value in (
            ("methods", args.methods),
            ("status", args.status),
            ("count", args.count),
        ):
            if value is not None:
                spec[key] = value
        if args.drop:
            spec["drop"] = True
        if args.latency_ms:
            spec["latency_ms"] = args.latency_ms
        result = _admin_call(args, "POST", "/_emulator/faults", spec)
    elif args.action == "remove":
        result = _admin_call(args, "DELETE", f"/_emulator/faults/{args.rule_id}")
    elif args.action == "clear":
        result = _admin_call(args, "DELETE", "/_emulator/faults")
    else:
        body = {}
        if args.duplicate is not None:
            body["duplicate_fraction"] = args.duplicate
        if args.reorder is not None:
            body["reorder"] = args.reorder == "on"
        result = _admin_call(args, "PUT", "/_emulator/faults/hooks", body)
    print(json.dumps(result, indent=2))
