import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def make_user(db):
    """Create users with readable logins: make_user("ada") -> ada@example.com."""

    def make(name: str, **fields):
        return get_user_model().objects.create_user(
            f"00u{name}", login=f"{name}@example.com", email=f"{name}@example.com", **fields
        )

    return make
