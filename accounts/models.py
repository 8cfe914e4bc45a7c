"""The portal's user, keyed on the Okta user id (the OIDC `sub` claim), and its sessions."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone


class OktaStatus(models.TextChoices):
    """Okta's user lifecycle statuses, as the Management API spells them."""

    STAGED = "STAGED", "Staged"
    PROVISIONED = "PROVISIONED", "Provisioned"
    ACTIVE = "ACTIVE", "Active"
    RECOVERY = "RECOVERY", "Recovery"
    LOCKED_OUT = "LOCKED_OUT", "Locked out"
    PASSWORD_EXPIRED = "PASSWORD_EXPIRED", "Password expired"
    SUSPENDED = "SUSPENDED", "Suspended"
    DEPROVISIONED = "DEPROVISIONED", "Deprovisioned"


class UserManager(BaseUserManager):
    def create_user(self, okta_id: str, password: str | None = None, **fields) -> "User":
        """Create a user. Without a password the user can only sign in through Okta."""
        if not okta_id:
            raise ValueError("okta_id is required: pass the user's Okta id (the OIDC sub claim).")
        if "email" in fields:
            fields["email"] = self.normalize_email(fields["email"])
        user = self.model(okta_id=okta_id, **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, okta_id: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        fields.setdefault("is_admin", True)
        return self.create_user(okta_id, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    # Okta ids are 20 characters today; the margin costs nothing.
    okta_id = models.CharField("Okta user id", max_length=64, unique=True)
    login = models.CharField(max_length=255, db_index=True)
    email = models.EmailField(blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    okta_status = models.CharField(
        max_length=20, choices=OktaStatus.choices, default=OktaStatus.ACTIVE
    )
    department = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=255, blank=True)
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    # Okta's profile.managerId as received. It may be empty, stale or name a user the portal has
    # never seen, in which case `manager` stays null.
    manager_okta_id = models.CharField(max_length=255, blank=True)
    # Membership of the PORTAL_ADMIN_GROUP Okta group, from the ID token's groups claim at
    # sign-in and from the user sync. Portal admins also get Django's admin site: sign-in and
    # the sync keep is_staff and is_superuser equal to is_admin.
    is_admin = models.BooleanField(default=False)
    # Access to Django's admin site.
    is_staff = models.BooleanField(default=False)
    # False when okta_status is anything but ACTIVE: such users cannot sign in and their
    # sessions stop authenticating.
    is_active = models.BooleanField(default=True)
    # Names of the user's Okta groups from the ID token's groups claim at the last sign-in.
    okta_groups = models.JSONField(default=list, blank=True)
    # IANA name from Okta's profile.timezone, stored by the user sync only; only known names
    # are stored. Custom end dates end at midnight here. Empty = the portal default.
    time_zone = models.CharField(max_length=64, blank=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # When the profile fields above were last copied from Okta; null until the first sync.
    last_synced_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "okta_id"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["login", "email"]

    class Meta:
        ordering = ["login"]

    def __str__(self) -> str:
        return self.login or self.okta_id

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name

    @property
    def is_approver(self) -> bool:
        """True for a user with direct reports or who owns a resource; derived, never stored.

        Costs up to two queries; pages that show it for many users annotate instead.
        """
        return self.reports.exists() or self.owned_resources.exists()


class UserSession(models.Model):
    """A Django session of a signed-in user, written at sign-in and removed at sign-out.

    The session store cannot be searched by user with the cache backend, so the user sync
    reads this table to end the sessions of users who are no longer ACTIVE in Okta.
    """

    session_key = models.CharField(max_length=40, primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sessions"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"session of {self.user_id} since {self.created_at:%Y-%m-%d %H:%M}"
