"""The 403, 404 and 500 pages: the portal's own wording, and a way back home."""

import pytest
from django.views.defaults import server_error


@pytest.fixture
def employee(django_user_model):
    return django_user_model.objects.create_user(
        "00uerrorpages01", login="grace@example.com", first_name="Grace"
    )


@pytest.mark.django_db
def test_admin_site_refusal_page(client, employee):
    client.force_login(employee)

    response = client.get("/admin/", follow=True)

    html = response.content.decode()
    assert response.status_code == 403
    assert "You cannot open this page" in html
    assert "Portal Admins" in html
    assert 'aria-label="Main"' in html
    assert "Go to the home page" in html


@pytest.mark.django_db
def test_unknown_page_is_portal_404(client, employee):
    client.force_login(employee)

    response = client.get("/no/such/page/")

    html = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in html
    assert "/no/such/page/" in html
    assert 'aria-label="Main"' in html


def test_server_error_page_needs_no_database(rf):
    # No django_db mark: any query here fails the test.
    response = server_error(rf.get("/"))

    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in html
    assert 'href="/"' in html

