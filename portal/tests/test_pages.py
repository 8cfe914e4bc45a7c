import pytest
from django.urls import reverse
from django_htmx.middleware import HtmxMiddleware


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user(
        "00u1demo", login="ada@example.com", first_name="Ada", last_name="Lovelace"
    )


@pytest.mark.django_db
def test_landing_loads_vendored_assets(client, ada):
    client.force_login(ada)

    response = client.get(reverse("landing"))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="en">' in html
    assert "/static/vendor/htmx/htmx.min.js" in html
    assert "/static/vendor/pico/pico.min.css" in html
    assert 'href="#main"' in html


@pytest.mark.django_db
def test_landing_shows_signed_in_user(client, ada):
    client.force_login(ada)

    html = client.get(reverse("landing")).content.decode()

    assert "Welcome, Ada" in html
    assert "Ada Lovelace" in html
    assert "Sign out" in html


@pytest.mark.django_db
def test_landing_rejects_post(client, ada):
    client.force_login(ada)

    response = client.post(reverse("landing"))

    assert response.status_code == 405


@pytest.mark.parametrize(
    ("path", "first_bytes"),
    [
        ("/static/vendor/htmx/htmx.min.js", b"var htmx="),
        ("/static/vendor/pico/pico.min.css", b"@charset"),
    ],
)
def test_vendored_static_served_by_whitenoise(client, path, first_bytes):
    response = client.get(path)

    body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert body.startswith(first_bytes)


def test_htmx_middleware_marks_htmx_requests(rf, settings):
    seen = {}

    def view(request):
        seen["htmx"] = bool(request.htmx)
        seen["target"] = request.htmx.target
        return None

    request = rf.get("/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    HtmxMiddleware(view)(request)

    assert "django_htmx.middleware.HtmxMiddleware" in settings.MIDDLEWARE
    assert seen == {"htmx": True, "target": "results"}
