"""Typed readers for the environment variables that configure the portal.

settings.py is the only caller in production code. The readers take a plain mapping instead
of os.environ so that tests can exercise them without reloading Django settings.
"""

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from django.core.exceptions import ImproperlyConfigured

MODES = ("development", "production", "test")

# Broker URL schemes that work across hosts. The filesystem transport only works for processes
# that share one disk, so production rejects it.
NETWORK_BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")
EMBEDDED_BROKER_SCHEME = "filesystem"
# The filesystem transport ignores the host, but kombu logs a warning on every connection
# whose URL has none.
EMBEDDED_BROKER_URL = "filesystem://localhost//"


class Config:
    """Environment variables, read with the rules of one mode.

    In production mode a variable marked required must be set. In development and test mode the
    caller's development default is used instead, so a fresh checkout runs without any setup.
    """

    def __init__(self, variables: Mapping[str, str], *, mode: str):
        if mode not in MODES:
            raise ImproperlyConfigured(
                f"PORTAL_ENV is {mode!r}, which is not a valid mode: "
                f"expected one of {', '.join(MODES)}."
            )
        self.variables = variables
        self.mode = mode

    @property
    def production(self) -> bool:
        return self.mode == "production"

    def raw(self, name: str, *, secret: bool = False) -> str | None:
        """Return the variable's value, or None when it is unset or empty.

        A secret may instead come from the file named by NAME_FILE (Docker and Kubernetes
        secrets); its content is used with surrounding whitespace removed.
        """
        value = self.variables.get(name) or None
        if not secret:
            return value

        file_variable = f"{name}_FILE"
        path = self.variables.get(file_variable)
        if not path:
            return value
        if value is not None:
            raise ImproperlyConfigured(
                f"Both {name} and {file_variable} are set: set only one of them."
            )
        try:
            content = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{file_variable} names {path!r}, which cannot be read: {exc.strerror}."
            ) from exc
        if not content:
            raise ImproperlyConfigured(f"{file_variable} names {path!r}, which is empty.")
        return content

    def required(
        self, name: str, *, development_default: str, expected: str, secret: bool = False
    ) -> str:
        """Return a variable that production mode requires.

        `expected` describes a valid value; it goes into the error message.
        """
        value = self.raw(name, secret=secret)
        if value is not None:
            return value
        if self.production:
            hint = f" (or {name}_FILE naming a file that contains it)" if secret else ""
            raise ImproperlyConfigured(
                f"{name} is missing: PORTAL_ENV=production requires it. "
                f"Set {name}{hint} to {expected}."
            )
        return development_default

    def optional(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ImproperlyConfigured(
            f"{name} is {value!r}, which is not a boolean: expected true or false."
        )

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < minimum:
            raise ImproperlyConfigured(
                f"{name} is {value!r}, which is not valid: expected an integer >= {minimum}."
            )
        return number

    def names(self, name: str, default: list[str]) -> list[str]:
        """Return a comma-separated list, without blanks."""
        value = self.raw(name)
        if value is None:
            return default
        return [item.strip() for item in value.split(",") if item.strip()]

    def networks(self, name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """Return a comma-separated list of IP addresses and CIDR networks, () when unset.

        A single address becomes a network of one address (/32 or /128). A network with host
        bits set, such as 10.0.0.1/8, is rejected because it is probably a typo for 10.0.0.0/8.
        """
        networks = []
        for item in self.names(name, default=[]):
            try:
                networks.append(ipaddress.ip_network(item))
            except ValueError as error:
                raise ImproperlyConfigured(
                    f"{name} contains {item!r}, which is not valid ({error}): expected "
                    "comma-separated IP addresses or CIDR networks, such as 10.0.0.5,10.1.0.0/16."
                ) from error
        return tuple(networks)


def validate_url(name: str, value: str, *, schemes: tuple[str, ...], expected: str) -> str:
    """Check that `value` is an absolute URL with one of `schemes`; return it unchanged."""
    parts = urlsplit(value)
    if parts.scheme not in schemes or (not parts.netloc and parts.scheme != "filesystem"):
        raise ImproperlyConfigured(
            f"{name} is {redact_password(value)!r}, which is not valid: expected {expected}."
        )
    return value


def redact_password(url: str) -> str:
    """Return `url` with any password replaced by ***, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def validate_secret_key(value: str, *, production: bool) -> str:
    # The same limits as Django's deployment check (security.W009), enforced at start-up so a
    # weak key cannot reach production unnoticed.
    if not production:
        return value
    if len(value) < 50 or len(set(value)) < 5 or value.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "SECRET_KEY is not valid for production: expected at least 50 random characters "
            "that do not start with 'django-insecure'. Generate one with: python -c "
            "'import secrets; print(secrets.token_urlsafe(50))'"
        )
    return value


# PostgreSQL in production, SQLite for development and tests; no other driver is installed.
DATABASE_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")


def database_settings(name: str, url: str) -> dict:
    expected = (
        "expected postgres://USER:PASSWORD@HOST:5432/NAME or sqlite:////absolute/path.sqlite3"
    )
    if urlsplit(url).scheme not in DATABASE_SCHEMES:
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {expected}.")
    database = environ.Env.db_url_config(url)
    if not database.get("NAME"):
        raise ImproperlyConfigured(f"{name} names no database: {expected}.")
    return database


def cache_settings(name: str, url: str) -> dict:
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "dbcache", "locmemcache"):
        raise ImproperlyConfigured(
            f"{name} is {url!r}, which is not a supported cache URL: expected "
            "redis://HOST:6379/DB, rediss://..., dbcache://TABLE or locmemcache://."
        )
    return environ.Env.cache_url_config(url)


def embedded_broker_root(url: str, var_dir: Path) -> Path:
    path = urlsplit(url).path
    if not path.strip("/"):
        return var_dir / "celery"
    return Path(path)


def broker_settings(url: str, var_dir: Path) -> dict:
    """Return Celery's broker settings (lower-case Celery names) for a broker URL.

    `filesystem://` selects the embedded broker: kombu's filesystem transport with its folders
    under `var_dir`/celery, which needs no server. A path in the URL
    (`filesystem:///srv/portal/celery`) puts the folders there instead. Other URLs are passed to
    kombu unchanged.
    """
    if urlsplit(url).scheme != EMBEDDED_BROKER_SCHEME:
        return {"broker_url": url, "broker_transport_options": {}}

    root = embedded_broker_root(url, var_dir)
    queue_folder = root / "queue"
    # Claimed messages are moved into a folder on the same disk: the move is then an atomic
    # rename, so two consumers can never both take one message. Across disks shutil.move falls
    # back to copy-and-delete, which is not atomic.
    processed_folder = root / "processed"
    control_folder = root / "control"
    for folder in (queue_folder, processed_folder, control_folder):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": EMBEDDED_BROKER_URL,
        "broker_transport_options": {
            "data_folder_in": str(queue_folder),
            "data_folder_out": str(queue_folder),
            "processed_folder": str(processed_folder),
            "store_processed": True,
            "control_folder": str(control_folder),
        },
    }


def default_result_backend(broker_url: str, var_dir: Path) -> str:
    """Return a result backend that needs no more servers than the broker does."""
    scheme = urlsplit(broker_url).scheme
    if scheme in ("redis", "rediss"):
        return broker_url
    if scheme == EMBEDDED_BROKER_SCHEME:
        results = embedded_broker_root(broker_url, var_dir) / "results"
        results.mkdir(parents=True, exist_ok=True)
        return f"file://{results}"
    # AMQP brokers: results travel back as messages to the caller.
    return "rpc://"


# Result backends whose client libraries are installed: Redis, replies over the AMQP broker
# (rpc://) and files in a shared folder (file:///absolute/path).
RESULT_BACKEND_SCHEMES = ("redis", "rediss", "rpc", "file")


def validate_result_backend(name: str, url: str) -> str:
    """Check that `url` is a Celery result backend URL the portal supports; return it."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        valid = parts.path.startswith("/") and not parts.netloc
    elif parts.scheme in ("redis", "rediss"):
        valid = bool(parts.netloc)
    else:
        valid = parts.scheme in RESULT_BACKEND_SCHEMES
    if not valid:
        raise ImproperlyConfigured(
            f"{name} is {redact_password(url)!r}, which is not a supported result backend URL: "
            "expected redis://HOST:6379/DB, rediss://..., rpc:// (with an AMQP broker) or "
            "file:///absolute/folder. Leave it unset to use the broker's default."
        )
    return url


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def validate_log_level(name: str, value: str) -> str:
    """Return `value` in upper case if it names a standard logging level."""
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise ImproperlyConfigured(
            f"{name} is {value!r}, which is not a valid log level: "
            f"expected one of {', '.join(LOG_LEVELS)}."
        )
    return level


def validate_time_zone(name: str, value: str) -> str:
    """Check that `value` is an IANA time zone name, such as Europe/Berlin; return it."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ImproperlyConfigured(
            f"{name} is {value!r}, which is not a known time zone: expected an IANA time zone "
            "name such as UTC, Europe/Berlin or America/New_York."
        ) from error
    return value


# Schemes that deliver mail over SMTP, and the explicit ways to not send mail at all.
SMTP_EMAIL_SCHEMES = ("smtp", "smtps", "smtp+tls", "smtp+ssl")
NO_DELIVERY_EMAIL_SCHEMES = ("consolemail", "dummymail")
EMAIL_URL_EXPECTED = (
    "smtp+tls://USER:PASSWORD@HOST:587 to send mail (or smtp+ssl://...:465, smtp://...:25), "
    "or, to send no mail, consolemail:// (print each e-mail to standard output) or dummymail:// "
    "(discard it)"
)


def email_settings(name: str, url: str) -> dict:
    """Return Django's EMAIL_* settings for an e-mail URL such as smtp+tls://USER:PW@HOST:587.

    The SMTP schemes need a host. A port, where given, must be from 1 to 65535.
    """
    parts = urlsplit(url)
    redacted_url = redact_password(url)
    if parts.scheme not in (*SMTP_EMAIL_SCHEMES, *NO_DELIVERY_EMAIL_SCHEMES):
        raise ImproperlyConfigured(
            f"{name} is {redacted_url!r}, which has an unsupported scheme: "
            f"expected {EMAIL_URL_EXPECTED}."
        )
    try:
        port = parts.port
    except ValueError:
        port = 0
    # urlsplit returns no port for "HOST:" and raises for a non-numeric one, so look for the
    # colon itself. The part after "]" skips the colons of an IPv6 address.
    host_and_port = parts.netloc.rpartition("@")[2]
    port_given = ":" in host_and_port.rpartition("]")[2]
    if port_given and not port:
        raise ImproperlyConfigured(
            f"{name} is {redacted_url!r}, which has an invalid port: expected a number from 1 "
            "to 65535, such as 587 for smtp+tls:// or 465 for smtp+ssl://."
        )
    if parts.scheme in SMTP_EMAIL_SCHEMES and not parts.hostname:
        raise ImproperlyConfigured(
            f"{name} is {redacted_url!r}, which names no mail server: "
            f"expected {EMAIL_URL_EXPECTED}."
        )
    return environ.Env.email_url_config(url)
