import ipaddress
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.config import (
    EMBEDDED_BROKER_URL,
    Config,
    broker_settings,
    cache_settings,
    database_settings,
    default_result_backend,
    email_settings,
    validate_log_level,
    validate_result_backend,
    validate_secret_key,
    validate_time_zone,
    validate_url,
)


def production(**variables) -> Config:
    return Config(variables, mode="production")


def development(**variables) -> Config:
    return Config(variables, mode="development")


def test_mode_invalid_is_rejected():
    with pytest.raises(ImproperlyConfigured, match="PORTAL_ENV is 'staging'"):
        Config({}, mode="staging")


def test_required_missing_in_production_names_variable():
    with pytest.raises(ImproperlyConfigured) as raised:
        production().required("OKTA_ORG_URL", development_default="x", expected="an org URL")

    message = str(raised.value)
    assert "OKTA_ORG_URL is missing" in message
    assert "an org URL" in message


def test_required_empty_in_production_counts_as_missing():
    with pytest.raises(ImproperlyConfigured, match="OKTA_ORG_URL is missing"):
        production(OKTA_ORG_URL="").required(
            "OKTA_ORG_URL", development_default="x", expected="an org URL"
        )


def test_required_secret_error_mentions_file_variant():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE"):
        production().required("SECRET_KEY", development_default="x", expected="a key", secret=True)


def test_required_missing_in_development_uses_default():
    value = development().required("OKTA_ORG_URL", development_default="dflt", expected="x")

    assert value == "dflt"


def test_required_set_value_wins_over_default():
    value = production(OKTA_ORG_URL="https://a.example").required(
        "OKTA_ORG_URL", development_default="dflt", expected="x"
    )

    assert value == "https://a.example"


def test_secret_read_from_file(tmp_path: Path):
    secret_file = tmp_path / "token"
    secret_file.write_text("  s3cret-token\n")

    value = production(OKTA_API_TOKEN_FILE=str(secret_file)).required(
        "OKTA_API_TOKEN", development_default="x", expected="x", secret=True
    )

    assert value == "s3cret-token"


def test_secret_file_ignored_for_non_secret():
    config = production(OKTA_ORG_URL_FILE="/nonexistent")

    assert config.raw("OKTA_ORG_URL") is None


def test_secret_and_file_both_set_is_rejected(tmp_path: Path):
    secret_file = tmp_path / "token"
    secret_file.write_text("a")
    config = production(OKTA_API_TOKEN="b", OKTA_API_TOKEN_FILE=str(secret_file))

    with pytest.raises(ImproperlyConfigured, match="Both OKTA_API_TOKEN and OKTA_API_TOKEN_FILE"):
        config.raw("OKTA_API_TOKEN", secret=True)


def test_secret_file_missing_names_file_variable(tmp_path: Path):
    missing = tmp_path / "absent"
    config = production(SECRET_KEY_FILE=str(missing))

    with pytest.raises(ImproperlyConfigured) as raised:
        config.raw("SECRET_KEY", secret=True)

    assert "SECRET_KEY_FILE" in str(raised.value)
    assert str(missing) in str(raised.value)


def test_secret_file_empty_is_rejected(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.write_text("\n")

    with pytest.raises(ImproperlyConfigured, match="which is empty"):
        production(SECRET_KEY_FILE=str(empty)).raw("SECRET_KEY", secret=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("1", True), ("Yes", True), ("off", False), ("FALSE", False), ("0", False)],
)
def test_boolean_parses_common_spellings(text, expected):
    assert development(FLAG=text).boolean("FLAG", default=not expected) is expected


def test_boolean_invalid_is_rejected():
    with pytest.raises(ImproperlyConfigured, match="FLAG is 'maybe', which is not a boolean"):
        development(FLAG="maybe").boolean("FLAG", default=False)


def test_integer_invalid_is_rejected():
    with pytest.raises(ImproperlyConfigured, match="expected an integer >= 0"):
        development(N="ten").integer("N", default=1)


def test_integer_below_minimum_is_rejected():
    with pytest.raises(ImproperlyConfigured, match="N is '-5'"):
        development(N="-5").integer("N", default=1)


def test_names_splits_and_drops_blanks():
    assert development(HOSTS=" a.example, ,b.example ").names("HOSTS", []) == [
        "a.example",
        "b.example",
    ]


def test_networks_unset_is_empty():
    assert development().networks("PORTAL_TRUSTED_PROXIES") == ()
    assert development(PORTAL_TRUSTED_PROXIES=" , ").networks("PORTAL_TRUSTED_PROXIES") == ()


def test_networks_parses_addresses_and_cidrs():
    config = production(PORTAL_TRUSTED_PROXIES=" 10.0.0.5, 10.1.0.0/16,2001:db8::/32,::1 ")

    networks = config.networks("PORTAL_TRUSTED_PROXIES")

    assert networks == (
        ipaddress.ip_network("10.0.0.5/32"),
        ipaddress.ip_network("10.1.0.0/16"),
        ipaddress.ip_network("2001:db8::/32"),
        ipaddress.ip_network("::1/128"),
    )


@pytest.mark.parametrize(
    ("value", "invalid_item"),
    [
        ("10.0.0.5,proxy.internal", "'proxy.internal'"),
        ("10.0.0.1/8", "'10.0.0.1/8'"),
        ("10.0.0.0/33", "'10.0.0.0/33'"),
        ("10.0.0.0/8;10.1.0.0/16", "'10.0.0.0/8;10.1.0.0/16'"),
    ],
)
def test_networks_invalid_item_is_rejected(value, invalid_item):
    with pytest.raises(ImproperlyConfigured) as raised:
        production(PORTAL_TRUSTED_PROXIES=value).networks("PORTAL_TRUSTED_PROXIES")

    message = str(raised.value)
    assert f"PORTAL_TRUSTED_PROXIES contains {invalid_item}" in message
    assert "CIDR" in message


def test_validate_url_rejects_wrong_scheme():
    with pytest.raises(ImproperlyConfigured) as raised:
        validate_url("OKTA_ORG_URL", "http://a.example", schemes=("https",), expected="https")

    assert "OKTA_ORG_URL is 'http://a.example'" in str(raised.value)


def test_validate_url_rejects_missing_host():
    with pytest.raises(ImproperlyConfigured, match="OKTA_ORG_URL"):
        validate_url("OKTA_ORG_URL", "https://", schemes=("https",), expected="https")


def test_secret_key_short_rejected_in_production():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is not valid for production"):
        validate_secret_key("short", production=True)


def test_secret_key_insecure_prefix_rejected_in_production():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        validate_secret_key("django-insecure-" + "x" * 60, production=True)


def test_secret_key_short_allowed_in_development():
    assert validate_secret_key("short", production=False) == "short"


def test_database_url_postgres_parsed():
    database = database_settings("DATABASE_URL", "postgres://u:p@127.0.0.1:5432/portal")

    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["NAME"] == "portal"
    assert database["HOST"] == "127.0.0.1"


def test_database_url_invalid_names_variable():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL is not a valid database URL"):
        database_settings("DATABASE_URL", "nosuchdb://x/y")


def test_cache_url_redis_uses_django_backend():
    cache = cache_settings("CACHE_URL", "redis://127.0.0.1:6379/3")

    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert "127.0.0.1:6379" in cache["LOCATION"]


def test_cache_url_unsupported_is_rejected():
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL is 'memcache://x'"):
        cache_settings("CACHE_URL", "memcache://x")


def test_broker_embedded_creates_folders(tmp_path: Path):
    broker = broker_settings("filesystem://", tmp_path)

    options = broker["broker_transport_options"]
    assert broker["broker_url"] == EMBEDDED_BROKER_URL
    assert options["data_folder_in"] == options["data_folder_out"]
    assert Path(options["data_folder_in"]) == tmp_path / "celery" / "queue"
    assert Path(options["data_folder_in"]).is_dir()
    assert Path(options["processed_folder"]).is_dir()
    assert Path(options["control_folder"]).is_dir()
    assert options["store_processed"] is True


def test_broker_embedded_url_path_chooses_folder(tmp_path: Path):
    broker = broker_settings(f"filesystem://{tmp_path}/elsewhere", tmp_path / "var")

    queue = Path(broker["broker_transport_options"]["data_folder_in"])
    assert queue == tmp_path / "elsewhere" / "queue"


def test_broker_embedded_url_with_host_uses_var(tmp_path: Path):
    broker = broker_settings(EMBEDDED_BROKER_URL, tmp_path)

    queue = Path(broker["broker_transport_options"]["data_folder_in"])
    assert queue == tmp_path / "celery" / "queue"


def test_broker_network_url_passed_through(tmp_path: Path):
    broker = broker_settings("redis://127.0.0.1:6379/2", tmp_path)

    assert broker == {"broker_url": "redis://127.0.0.1:6379/2", "broker_transport_options": {}}


@pytest.mark.parametrize(
    ("broker_url", "expected"),
    [
        ("redis://127.0.0.1:6379/2", "redis://127.0.0.1:6379/2"),
        ("amqp://guest:guest@127.0.0.1:5672//", "rpc://"),
    ],
)
def test_result_backend_follows_network_broker(tmp_path: Path, broker_url, expected):
    assert default_result_backend(broker_url, tmp_path) == expected


def test_result_backend_embedded_is_file_folder(tmp_path: Path):
    backend = default_result_backend("filesystem://", tmp_path)

    assert backend == f"file://{tmp_path / 'celery' / 'results'}"
    assert (tmp_path / "celery" / "results").is_dir()


def test_database_url_without_name_is_rejected():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL names no database"):
        database_settings("DATABASE_URL", "postgres://u:p@127.0.0.1:5432")


def test_validate_url_error_hides_password():
    with pytest.raises(ImproperlyConfigured) as raised:
        validate_url(
            "CELERY_BROKER_URL",
            "filesystm://user:hunter2@host/0",
            schemes=("redis",),
            expected="redis",
        )

    assert "hunter2" not in str(raised.value)
    assert "filesystm://user:***@host/0" in str(raised.value)


def test_email_url_smtp_tls_parsed():
    email = email_settings("EMAIL_URL", "smtp+tls://portal:pw@mail.example.com:587")

    assert email["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert email["EMAIL_HOST"] == "mail.example.com"
    assert email["EMAIL_PORT"] == 587
    assert email["EMAIL_USE_TLS"] is True


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("consolemail://", "django.core.mail.backends.console.EmailBackend"),
        ("dummymail://", "django.core.mail.backends.dummy.EmailBackend"),
    ],
)
def test_email_url_opt_out_schemes(url, backend):
    assert email_settings("EMAIL_URL", url)["EMAIL_BACKEND"] == backend


def test_email_url_ipv6_host_with_port():
    assert email_settings("EMAIL_URL", "smtp://[::1]:25")["EMAIL_PORT"] == 25


@pytest.mark.parametrize(
    "url", ["smtp+starttls://mail.example.com", "https://mail.example.com", "mail.example.com"]
)
def test_email_url_unsupported_scheme_rejected(url):
    with pytest.raises(ImproperlyConfigured) as raised:
        email_settings("EMAIL_URL", url)

    message = str(raised.value)
    assert f"EMAIL_URL is {url!r}" in message
    assert "unsupported scheme" in message
    assert "smtp+tls://" in message
    assert "consolemail://" in message


@pytest.mark.parametrize("port", ["abc", "0", "70000", ""])
def test_email_url_invalid_port_rejected(port):
    with pytest.raises(ImproperlyConfigured) as raised:
        email_settings("EMAIL_URL", f"smtp+tls://mail.example.com:{port}")

    message = str(raised.value)
    assert "EMAIL_URL" in message
    assert "invalid port" in message
    assert "1 to 65535" in message


def test_email_url_without_host_rejected():
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL .* names no mail server"):
        email_settings("EMAIL_URL", "smtp+tls://")


def test_email_url_error_hides_password():
    with pytest.raises(ImproperlyConfigured) as raised:
        email_settings("EMAIL_URL", "smtp+tls://portal:hunter2@mail.example.com:x")

    assert "hunter2" not in str(raised.value)


def test_log_level_normalised_to_upper_case():
    assert validate_log_level("LOG_LEVEL", " warning ") == "WARNING"


def test_log_level_invalid_lists_allowed_values():
    with pytest.raises(ImproperlyConfigured) as raised:
        validate_log_level("LOG_LEVEL", "verbose")

    message = str(raised.value)
    assert "LOG_LEVEL is 'verbose'" in message
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in message


def test_time_zone_valid_name_accepted():
    assert validate_time_zone("PORTAL_DEFAULT_TIME_ZONE", "Europe/Berlin") == "Europe/Berlin"


@pytest.mark.parametrize("value", ["Europe/Atlantis", "CEST", "../etc/passwd", "+02:00"])
def test_time_zone_unknown_rejected(value):
    with pytest.raises(ImproperlyConfigured) as raised:
        validate_time_zone("PORTAL_DEFAULT_TIME_ZONE", value)

    message = str(raised.value)
    assert f"PORTAL_DEFAULT_TIME_ZONE is {value!r}" in message
    assert "IANA time zone" in message


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/1",
        "rediss://cache.example.com:6380/1",
        "rpc://",
        "file:///srv/results",
    ],
)
def test_result_backend_supported_accepted(url):
    assert validate_result_backend("CELERY_RESULT_BACKEND", url) == url


@pytest.mark.parametrize(
    "url",
    [
        "mongodb://127.0.0.1:27017/results",
        "db+postgresql://portal@127.0.0.1/portal",
        "redis://",
        "file://relative/folder",
        "127.0.0.1:6379",
    ],
)
def test_result_backend_unsupported_rejected(url):
    with pytest.raises(ImproperlyConfigured) as raised:
        validate_result_backend("CELERY_RESULT_BACKEND", url)

    message = str(raised.value)
    assert f"CELERY_RESULT_BACKEND is {url!r}" in message
    assert "redis://" in message
    assert "rpc://" in message


def test_result_backend_error_hides_password():
    with pytest.raises(ImproperlyConfigured) as raised:
        validate_result_backend("CELERY_RESULT_BACKEND", "mongodb://portal:hunter2@127.0.0.1/r")

    assert "hunter2" not in str(raised.value)
