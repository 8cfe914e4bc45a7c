"""The main navigation: the same links on every page, by role."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

EVERYONE = {
    "Home": "landing",
    "Catalog": "access_requests:catalog",
    "My requests": "access_requests:my_requests",
    "Approvals": "access_requests:inbox",
    "Audit": "audit:events",
    "My profile": "accounts:profile",
}
ADMINS_ONLY = {
    "Drift": "access_requests:drift_list",
    "Dashboard": "audit:dashboard",
    "Django admin": "admin:index",
}
PAGES = [
    "landing",
    "accounts:profile",
    "access_requests:catalog",
    "access_requests:my_requests",
    "access_requests:inbox",
    "audit:events",
    "audit:reports",
]
ADMIN_PAGES = ["access_requests:drift_list", "audit:dashboard"]


@pytest.fixture
def employee(django_user_model):
    return django_user_model.objects.create_user(
        "00unavemployee01", login="nav.employee@example.com", first_name="Nia"
    )


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_user(
        "00unavadmin00001",
        login="nav.admin@example.com",
        first_name="Ari",
        is_admin=True,
        is_staff=True,
        is_superuser=True,
    )


def main_nav(html: str) -> str:
    start = html.index('<nav aria-label="Main">')
    return html[start : html.index("</nav>", start)]


def nav_link(url_name: str) -> str:
    return f'href="{reverse(url_name)}"'


@pytest.mark.parametrize("page", PAGES + ADMIN_PAGES)
def test_admin_nav_on_every_page(client, admin, page):
    client.force_login(admin)

    response = client.get(reverse(page))

    assert response.status_code == 200
    nav = main_nav(response.content.decode())
    for label, url_name in {**EVERYONE, **ADMINS_ONLY}.items():
        assert nav_link(url_name) in nav, f"{label} missing on {page}"
        assert f">{label}</a>" in nav, f"{label} label missing on {page}"
    assert "Sign out" in nav


@pytest.mark.parametrize("page", PAGES[:-1])
def test_employee_nav_on_every_page(client, employee, page):
    client.force_login(employee)

    response = client.get(reverse(page))

    assert response.status_code == 200
    nav = main_nav(response.content.decode())
    for label, url_name in EVERYONE.items():
        assert nav_link(url_name) in nav, f"{label} missing on {page}"
    for label, url_name in ADMINS_ONLY.items():
        assert nav_link(url_name) not in nav, f"{label} shown to an employee on {page}"
    assert "Sign out" in nav


def test_current_page_is_marked(client, employee):
    client.force_login(employee)

    nav = main_nav(client.get(reverse("audit:events")).content.decode())

    assert f'href="{reverse("audit:events")}" aria-current="page"' in nav
    assert f'href="{reverse("landing")}" aria-current="page"' not in nav
