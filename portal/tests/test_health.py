import socket

import pytest
from django.urls import reverse

from portal.celery import app as celery_app
from portal.health import OKTA_TIMEOUT_SECONDS


def closed_port() -> int:
    """Return a loopback port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def broker_unreachable(monkeypatch):
    """Point the Celery app at a Redis port where nothing listens."""
    url = f"redis://127.0.0.1:{closed_port()}/0"
    # Celery reads the CELERY_BROKER_URL environment variable before its configuration, so
    # setting the variable is enough to redirect the app.
    monkeypatch.setenv("CELERY_BROKER_URL", url)


# Without the django_db mark any database access raises, so this also checks that /healthz
# touches no database.
def test_healthz_returns_ok(client):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_rejects_post(client):
    response = client.post(reverse("healthz"))

    assert response.status_code == 405


@pytest.fixture
def okta_issuer(okta_org, settings):
    """Point the portal at the Okta emulator, reset to its seed org."""
    settings.OKTA_ISSUER = okta_org.issuer
    return okta_org


@pytest.mark.django_db
def test_readyz_all_dependencies_up(client, okta_issuer):
    response = client.get(reverse("readyz"))

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "okta"}
    for name, check in body["checks"].items():
        assert check["status"] == "ok", (name, check)
        assert check["latency_ms"] >= 0


@pytest.mark.django_db
def test_readyz_okta_unreachable(client, settings):
    settings.OKTA_ISSUER = f"http://127.0.0.1:{closed_port()}/oauth2/default"

    response = client.get(reverse("readyz"))

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "error"
    assert body["checks"]["okta"]["status"] == "error"
    assert "ConnectionError" in body["checks"]["okta"]["error"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] == "ok"


@pytest.mark.django_db
def test_readyz_okta_server_error(client, okta_issuer):
    okta_issuer.set_fault("/oauth2/default/.well-known/openid-configuration", status=500)

    response = client.get(reverse("readyz"))

    assert response.status_code == 503
    assert "HTTP 500" in response.json()["checks"]["okta"]["error"]


@pytest.mark.django_db
def test_readyz_okta_timeout(client, okta_issuer):
    okta_issuer.set_fault(
        "/oauth2/default/.well-known/openid-configuration",
        latency_ms=(OKTA_TIMEOUT_SECONDS + 1) * 1000,
    )

    response = client.get(reverse("readyz"))

    okta = response.json()["checks"]["okta"]
    assert response.status_code == 503
    assert "ReadTimeout" in okta["error"]
    assert okta["latency_ms"] < (OKTA_TIMEOUT_SECONDS + 1) * 1000


# The emulator derives its issuer from each request's Host header, so it always reports the
# expected issuer. A loopback stand-in reports a foreign one.
@pytest.mark.django_db
def test_readyz_okta_wrong_issuer(client, okta_discovery):
    okta_discovery.issuer_override = "https://other.example/oauth2/default"

    response = client.get(reverse("readyz"))

    assert response.status_code == 503
    assert "https://other.example" in response.json()["checks"]["okta"]["error"]


@pytest.mark.django_db
def test_readyz_broker_unreachable(client, okta_issuer, broker_unreachable):
    response = client.get(reverse("readyz"))

    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["broker"]["status"] == "error"
    assert "OperationalError" in body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["okta"]["status"] == "ok"


@pytest.mark.django_db
def test_readyz_embedded_broker_folder_missing(client, okta_issuer, settings, tmp_path):
    if celery_app.conf.broker_url.split(":", 1)[0] != "filesystem":
        pytest.skip("runs only with the embedded broker (CELERY_BROKER_URL=filesystem://)")
    options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    options["data_folder_in"] = str(tmp_path / "absent")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options

    response = client.get(reverse("readyz"))

    assert response.status_code == 503
    assert "absent" in response.json()["checks"]["broker"]["error"]
