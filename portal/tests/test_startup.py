"""Start-up in production mode, run as `manage.py check` in a child process.

Settings are read once per process, so each case needs its own process.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PRODUCTION_VARIABLES = {
    "PORTAL_ENV": "production",
    "SECRET_KEY": "k3Jx9-production-test-key-that-is-long-enough-0123456789abcdef",
    "ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "postgres://portal:pw@127.0.0.1:5432/portal",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "OKTA_ORG_URL": "https://example.okta.com",
    "OKTA_API_TOKEN": "00productionTestToken",
    "OIDC_RP_CLIENT_ID": "0oaproductiontest",
    "OIDC_RP_CLIENT_SECRET": "production-test-client-secret",
    "PORTAL_URL": "https://portal.example.com",
    "EMAIL_URL": "smtp+tls://portal:pw@127.0.0.1:587",
}

# Variables from the developer's shell that would change what these cases test.
OVERRIDDEN = (
    "PORTAL_ENV",
    "DEBUG",
    "CACHE_URL",
    "REDIS_URL",
    "CELERY_RESULT_BACKEND",
    "EMAIL_URL",
    "PORTAL_TRUSTED_PROXIES",
    "LOG_LEVEL",
    "PORTAL_DEFAULT_TIME_ZONE",
    *PRODUCTION_VARIABLES,
)


def run_manage(*args: str, **variables: str) -> subprocess.CompletedProcess:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in OVERRIDDEN and not name.endswith("_FILE")
    }
    environment.update(variables)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def without(name: str) -> dict[str, str]:
    return {key: value for key, value in PRODUCTION_VARIABLES.items() if key != name}


def test_production_deploy_check_is_clean():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_VARIABLES)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "name",
    [
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "OKTA_ORG_URL",
        "OKTA_API_TOKEN",
        "OIDC_RP_CLIENT_ID",
        "OIDC_RP_CLIENT_SECRET",
        "PORTAL_URL",
        "EMAIL_URL",
    ],
)
def test_production_missing_setting_stops_startup(name):
    result = run_manage("check", **without(name))

    assert result.returncode != 0
    assert f"{name} is missing" in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_production_secrets_read_from_files(tmp_path: Path):
    variables = dict(PRODUCTION_VARIABLES)
    for name in ("SECRET_KEY", "DATABASE_URL", "OKTA_API_TOKEN", "OIDC_RP_CLIENT_SECRET"):
        secret_file = tmp_path / name.lower()
        secret_file.write_text(variables.pop(name) + "\n")
        variables[f"{name}_FILE"] = str(secret_file)

    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **variables)

    assert result.returncode == 0, result.stderr


def test_production_rejects_embedded_broker():
    result = run_manage("check", **{**PRODUCTION_VARIABLES, "CELERY_BROKER_URL": "filesystem://"})

    assert result.returncode != 0
    assert "CELERY_BROKER_URL is 'filesystem://'" in result.stderr


def test_production_rejects_plain_http_okta():
    result = run_manage(
        "check", **{**PRODUCTION_VARIABLES, "OKTA_ORG_URL": "http://example.okta.com"}
    )

    assert result.returncode != 0
    assert "OKTA_ORG_URL is 'http://example.okta.com'" in result.stderr


def test_production_rejects_debug():
    result = run_manage("check", **{**PRODUCTION_VARIABLES, "DEBUG": "true"})

    assert result.returncode != 0
    assert "DEBUG is true" in result.stderr


def test_production_rejects_invalid_trusted_proxy():
    variables = {**PRODUCTION_VARIABLES, "PORTAL_TRUSTED_PROXIES": "10.0.0.0/8,load-balancer"}

    result = run_manage("check", **variables)

    assert result.returncode != 0
    assert "PORTAL_TRUSTED_PROXIES contains 'load-balancer'" in result.stderr


def test_trusted_proxies_read_from_environment():
    variables = {**PRODUCTION_VARIABLES, "PORTAL_TRUSTED_PROXIES": "10.0.0.5, 2001:db8::/32"}

    printed = print_setting("PORTAL_TRUSTED_PROXIES", **variables)

    assert printed == "(IPv4Network('10.0.0.5/32'), IPv6Network('2001:db8::/32'))"


def test_invalid_mode_stops_startup():
    result = run_manage("check", PORTAL_ENV="prod")

    assert result.returncode != 0
    assert "PORTAL_ENV is 'prod'" in result.stderr


def test_development_runs_without_variables():
    result = run_manage("check", PORTAL_ENV="development")

    assert result.returncode == 0, result.stderr


def test_logging_writes_json_lines_to_stdout():
    code = (
        "import logging, django; django.setup(); "
        "logging.getLogger('portal.example').warning("
        "'user %s signed in', '00u1', extra={'request': object(), 'grant_id': 7})"
    )
    environment = {name: value for name, value in os.environ.items() if name not in OVERRIDDEN}
    environment.update(PORTAL_ENV="development", DJANGO_SETTINGS_MODULE="portal.settings")

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["message"] == "user 00u1 signed in"
    assert record["level"] == "WARNING"
    assert record["logger"] == "portal.example"
    assert "time" in record
    assert record["grant_id"] == 7
    assert "request" not in record


def print_setting(name: str, **variables: str) -> str:
    code = f"from django.conf import settings; print(settings.{name})"
    result = run_manage("shell", "--no-imports", "-c", code, **variables)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_portal_url_read_from_environment():
    variables = {**PRODUCTION_VARIABLES, "PORTAL_URL": "https://portal.example.com/"}

    assert print_setting("PORTAL_URL", **variables) == "https://portal.example.com"


def test_event_hook_secret_has_development_default():
    assert print_setting("PORTAL_EVENT_HOOK_SECRET", PORTAL_ENV="development")
    assert print_setting("PORTAL_EVENT_HOOK_SECRET", **PRODUCTION_VARIABLES) == ""


def test_production_portal_url_must_be_https():
    result = run_manage(
        "check", **{**PRODUCTION_VARIABLES, "PORTAL_URL": "http://portal.example.com"}
    )

    assert result.returncode != 0
    assert "PORTAL_URL" in result.stderr
    assert "https://" in result.stderr


def test_production_missing_email_url_names_opt_out():
    result = run_manage("check", **without("EMAIL_URL"))

    assert result.returncode != 0
    assert "EMAIL_URL is missing" in result.stderr
    assert "smtp+tls://" in result.stderr
    assert "consolemail://" in result.stderr
    assert "dummymail://" in result.stderr


@pytest.mark.parametrize("email_url", ["consolemail://", "dummymail://"])
def test_production_email_opt_out_starts(email_url):
    variables = {**PRODUCTION_VARIABLES, "EMAIL_URL": email_url}

    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **variables)

    assert result.returncode == 0, result.stderr


def test_development_email_defaults_to_console():
    printed = print_setting("EMAIL_BACKEND", PORTAL_ENV="development")

    assert printed == "django.core.mail.backends.console.EmailBackend"


def test_production_email_url_read_from_environment():
    assert print_setting("EMAIL_PORT", **PRODUCTION_VARIABLES) == "587"
    assert print_setting("EMAIL_USE_TLS", **PRODUCTION_VARIABLES) == "True"


@pytest.mark.parametrize(
    ("name", "value", "expected_message"),
    [
        ("EMAIL_URL", "smtp+starttls://mail.example.com:587", "has an unsupported scheme"),
        ("EMAIL_URL", "smtp+tls://mail.example.com:abc", "has an invalid port"),
        ("LOG_LEVEL", "verbose", "not a valid log level"),
        ("PORTAL_DEFAULT_TIME_ZONE", "Europe/Atlantis", "not a known time zone"),
        ("CELERY_RESULT_BACKEND", "mongodb://127.0.0.1:27017/results", "not a supported"),
    ],
)
def test_invalid_setting_stops_startup(name, value, expected_message):
    result = run_manage("check", **{**PRODUCTION_VARIABLES, name: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{name} is " in result.stderr
    assert expected_message in result.stderr


def test_log_level_lower_case_accepted():
    variables = {**PRODUCTION_VARIABLES, "LOG_LEVEL": "debug"}

    assert print_setting("LOG_LEVEL", **variables) == "DEBUG"
