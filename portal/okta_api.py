"""Facade over Okta's Management API: the only module that imports the okta SDK.

It turns SDK results into small domain objects and SDK failures into three exception
types the callers branch on:

- ``OktaTransientError``: try again later, never before ``retry_at`` (rate limits, 5xx,
  timeouts, refused connections);
- ``OktaPermanentError``: repeating the same call will fail the same way (Okta's
  ``errorCode`` and ``errorSummary`` give the reason);
- ``OktaNotFoundError``: the user, group, app or assignment does not exist.

Listings drain every page here, waiting for the rate-limit window to reset when Okta
returns 429 on a page. Calls that change Okta never wait: they raise
``OktaTransientError`` so the Celery task can retry without holding a worker.

The SDK is imported when an ``OktaClient`` is built, not when this module is imported,
because importing it costs about 2 s and over 100 MB: web processes only need the
exception and data classes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

# 5xx responses and connection failures carry no reset time: retry after this many
# seconds times 2**attempt, with jitter, capped (see ``backoff_delay``).
BASE_BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 300.0

# Okta's page-size ceilings: 200 for users and groups, 500 for app users.
USER_PAGE_SIZE = 200
GROUP_PAGE_SIZE = 200
GROUP_MEMBER_PAGE_SIZE = 200
APP_PAGE_SIZE = 200
APP_USER_PAGE_SIZE = 500

# A listing that hits 429 waits for the reset, but never longer than this per page
# and never more than this many times in a row.
MAX_LISTING_WAIT_SECONDS = 90.0
MAX_LISTING_RETRIES = 5

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

USER_STATUSES = (
    "STAGED",
    "PROVISIONED",
    "ACTIVE",
    "RECOVERY",
    "LOCKED_OUT",
    "PASSWORD_EXPIRED",
    "SUSPENDED",
    "DEPROVISIONED",
)

# errorCode values that mean "this already is the state you asked for".
ALREADY_ASSIGNED_CODES = {"E0000062"}


class OktaError(Exception):
    """Failure of a call to Okta, with its HTTP status, Okta errorCode and request id."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.request_id = request_id


class OktaTransientError(OktaError):
    """A failure worth retrying, not before ``retry_at`` (epoch seconds)."""

    def __init__(self, message: str, *, retry_at: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_at = retry_at


class OktaPermanentError(OktaError):
    """A failure that repeating the same call will not fix."""


class OktaNotFoundError(OktaError):
    """The object named in the call does not exist in Okta."""


@dataclass(frozen=True)
class OktaUser:
    id: str
    status: str
    login: str
    email: str
    first_name: str
    last_name: str
    department: str = ""
    title: str = ""
    manager_id: str = ""
    timezone: str = ""


@dataclass(frozen=True)
class OktaGroup:
    id: str
    name: str
    description: str
    type: str


@dataclass(frozen=True)
class OktaApp:
    id: str
    name: str
    label: str
    sign_on_mode: str
    status: str


@dataclass(frozen=True)
class OktaAppAssignment:
    """A user's assignment to an app; ``scope`` is USER (direct) or GROUP."""

    user_id: str
    scope: str


@dataclass(frozen=True)
class OktaEventHook:
    id: str
    name: str
    uri: str
    status: str
    verification_status: str


@dataclass
class CallInfo:
    """Request id, status and rate-limit reading of the last response."""

    request_id: str | None = None
    status: int | None = None
    rate_limit: RateLimitReading | None = None


@dataclass(frozen=True)
class RateLimitReading:
    """One response's ``X-Rate-Limit-*`` headers."""

    limit: int
    remaining: int
    reset_at: float


@dataclass
class Page:
    items: list[Any] = field(default_factory=list)
    next_cursor: str | None = None


def backoff_delay(attempt: int) -> float:
    """Return the seconds to wait before retry number ``attempt`` (0-based) of a 5xx."""
    delay = min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2**attempt)
    return delay * random.uniform(0.5, 1.0)


def read_rate_limit(headers: Mapping[str, str] | None) -> RateLimitReading | None:
    """Parse ``X-Rate-Limit-*``, with the reset moved onto this machine's clock.

    Okta's reset is an epoch second on Okta's clock; the ``Date`` header of the same
    response gives the offset between this machine's clock and Okta's.
    """
    if not headers:
        return None
    headers = {key.lower(): value for key, value in headers.items()}
    try:
        limit = int(headers["x-rate-limit-limit"])
        remaining = int(headers["x-rate-limit-remaining"])
        reset_at = float(headers["x-rate-limit-reset"])
    except (KeyError, ValueError):
        return None
    server_date = headers.get("date")
    if server_date:
        try:
            skew = time.time() - parsedate_to_datetime(server_date).timestamp()
        except (TypeError, ValueError):
            skew = 0.0
        reset_at += skew
    return RateLimitReading(limit=limit, remaining=remaining, reset_at=reset_at)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _next_cursor(headers: Mapping[str, str] | None) -> str | None:
    from okta.pagination import PaginationHelper

    return PaginationHelper.extract_next_cursor(dict(headers or {}))


class OktaClient:
    """Synchronous facade for one Okta org and API token.

    Build one per process (each SDK client installs a log handler) and use it from one
    thread at a time: the SDK is not thread-safe, which suits Celery's prefork pool.
    ``budget``, when given, is consulted before and fed after every call (see
    ``portal.okta_rate_budget``).
    """

    def __init__(
        self,
        org_url: str,
        api_token: str,
        *,
        budget: Any = None,
        request_timeout: float = 30.0,
    ) -> None:
        parts = urlsplit(org_url)
        if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
            # The SDK refuses plain http unless this variable is set; the only plain
            # http org we ever talk to is the local emulator.
            os.environ.setdefault("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")
        elif parts.scheme != "https":
            raise ValueError(
                f"Okta org URL {org_url!r} must use https (plain http is accepted "
                "only for an emulator on the loopback interface)"
            )

        from okta.client import Client

        self.org_url = org_url.rstrip("/")
        self.budget = budget
        self.last_call = CallInfo()
        self._sdk = Client(
            {
                "orgUrl": self.org_url,
                "token": api_token,
                "authorizationMode": "SSWS",
                # Retries are ours: the SDK would sleep inside a worker and never
                # retries 500s or refused connections anyway.
                "rateLimit": {"maxRetries": 0},
                "requestTimeout": request_timeout,
            }
        )

    # Reads ---------------------------------------------------------------

    def get_user(self, user_id_or_login: str) -> OktaUser:
        user = self._run("users_get", lambda sdk: sdk.get_user(user_id_or_login), wait=True)
        return _to_user(user)

    def list_users(self, *, search: str | None = None) -> list[OktaUser]:
        """Return every user; with no ``search``, Okta leaves out DEPROVISIONED users."""
        return self._drain(
            "users_list_create",
            lambda sdk, after: sdk.list_users(search=search, after=after, limit=USER_PAGE_SIZE),
            _to_user,
        )

    def list_all_users(self) -> list[OktaUser]:
        """Return every user in every status, DEPROVISIONED included."""
        # Okta includes DEPROVISIONED users only when a search or filter is given.
        return self.list_users(
            search=" or ".join(f'status eq "{status}"' for status in USER_STATUSES)
        )

    def list_user_groups(self, user_id: str, *, wait: bool = True) -> list[OktaGroup]:
        """Return the user's groups; with ``wait=False`` a 429 or 5xx raises at once."""
        groups = self._run("users", lambda sdk: sdk.list_user_groups(user_id), wait=wait)
        return [_to_group(group) for group in groups or []]

    def list_groups(self) -> list[OktaGroup]:
        return self._drain(
            "groups",
            lambda sdk, after: sdk.list_groups(after=after, limit=GROUP_PAGE_SIZE),
            _to_group,
        )

    def get_group(self, group_id: str) -> OktaGroup:
        return _to_group(self._run("group_by_id", lambda sdk: sdk.get_group(group_id), wait=True))

    def list_group_member_ids(self, group_id: str) -> list[str]:
        """Return the ids of every member; raises rather than return a partial list."""
        return self._drain(
            "groups",
            lambda sdk, after: sdk.list_group_users(
                group_id, after=after, limit=GROUP_MEMBER_PAGE_SIZE
            ),
            lambda user: user.id,
        )

    def list_apps(self) -> list[OktaApp]:
        return self._drain(
            "apps",
            lambda sdk, after: sdk.list_applications(after=after, limit=APP_PAGE_SIZE),
            _to_app,
        )

    def get_app(self, app_id: str) -> OktaApp:
        return _to_app(self._run("app_by_id", lambda sdk: sdk.get_application(app_id), wait=True))

    def list_app_assignments(self, app_id: str) -> list[OktaAppAssignment]:
        """Return every user assigned to the app, directly or through a group."""
        return self._drain(
            "apps",
            lambda sdk, after: sdk.list_application_users(
                app_id, after=after, limit=APP_USER_PAGE_SIZE
            ),
            _to_assignment,
        )

    def list_app_group_ids(self, app_id: str) -> list[str]:
        """Return the ids of the groups assigned to the app."""
        return self._drain(
            "apps",
            lambda sdk, after: sdk.list_application_group_assignments(
                app_id, after=after, limit=APP_PAGE_SIZE
            ),
            lambda assignment: assignment.id,
        )

    def get_app_assignment(self, app_id: str, user_id: str) -> OktaAppAssignment:
        """Return the user's assignment to the app; raises OktaNotFoundError if none."""
        app_user = self._run(
            "apps",
            lambda sdk: sdk.get_application_user(app_id, user_id),
            wait=False,
        )
        return _to_assignment(app_user)

    # Writes: never wait, raise OktaTransientError instead ----------------

    def add_group_member(self, group_id: str, user_id: str) -> CallInfo:
        """Add the user to the group; adding an existing member changes nothing."""
        self._run(
            "groups",
            lambda sdk: sdk.assign_user_to_group(group_id, user_id),
            wait=False,
        )
        return self.last_call

    def remove_group_member(self, group_id: str, user_id: str) -> CallInfo:
        self._run(
            "groups",
            lambda sdk: sdk.unassign_user_from_group(group_id, user_id),
            wait=False,
        )
        return self.last_call

    def assign_app(self, app_id: str, user_id: str) -> CallInfo:
        """Assign the user to the app directly (scope USER); a repeat is a no-op."""
        from okta.models.app_user_assign_request import AppUserAssignRequest

        body = AppUserAssignRequest(id=user_id, scope="USER")
        try:
            self._run(
                "apps",
                lambda sdk: sdk.assign_user_to_application(app_id, body),
                wait=False,
            )
        except OktaPermanentError as error:
            if error.error_code not in ALREADY_ASSIGNED_CODES:
                raise
            logger.info("user %s already assigned to app %s", user_id, app_id)
        return self.last_call

    def unassign_app(self, app_id: str, user_id: str) -> CallInfo:
        self._run(
            "apps",
            lambda sdk: sdk.unassign_user_from_application(app_id, user_id),
            wait=False,
        )
        return self.last_call

    # Event hooks ---------------------------------------------------------

    def list_event_hooks(self) -> list[OktaEventHook]:
        hooks = self._run("event_hooks", lambda sdk: sdk.list_event_hooks(), wait=True)
        return [_to_event_hook(hook) for hook in hooks or []]

    def create_event_hook(
        self, *, name: str, uri: str, event_types: list[str], header: str, secret: str
    ) -> OktaEventHook:
        """Create an active, unverified hook that sends `header: secret` with every call."""
        from okta.models.event_hook import EventHook

        body = EventHook.from_dict(
            {
                "name": name,
                "events": {"type": "EVENT_TYPE", "items": list(event_types)},
                "channel": {
                    "type": "HTTP",
                    "version": "1.0.0",
                    "config": {
                        "uri": uri,
                        "headers": [],
                        "authScheme": {"type": "HEADER", "key": header, "value": secret},
                    },
                },
            }
        )
        hook = self._run("event_hooks", lambda sdk: sdk.create_event_hook(body), wait=False)
        return _to_event_hook(hook)

    def verify_event_hook(self, hook_id: str) -> OktaEventHook:
        """Ask Okta to send the verification challenge; raises OktaPermanentError on failure."""
        hook = self._run("event_hooks", lambda sdk: sdk.verify_event_hook(hook_id), wait=False)
        return _to_event_hook(hook)

    # Plumbing ------------------------------------------------------------

    def _drain(
        self,
        bucket: str,
        fetch_page: Callable[[Any, str | None], Awaitable[Any]],
        convert: Callable[[Any], Any],
    ) -> list[Any]:
        """Fetch every page of a listing inside one HTTP session."""

        async def drain() -> list[Any]:
            items: list[Any] = []
            after: str | None = None
            while True:
                page = await self._call_waiting(
                    bucket,
                    lambda sdk, cursor=after: fetch_page(sdk, cursor),
                    paged=True,
                )
                items.extend(convert(item) for item in page.items)
                if not page.next_cursor or page.next_cursor == after:
                    return items
                after = page.next_cursor

        return asyncio.run(self._with_session(drain))

    def _run(self, bucket: str, call: Callable[[Any], Awaitable[Any]], *, wait: bool) -> Any:
        async def once() -> Any:
            if wait:
                page = await self._call_waiting(bucket, call, paged=False)
                return page.items
            data, _headers = await self._call(bucket, call, wait_for_budget=False)
            return data

        return asyncio.run(self._with_session(once))

    async def _with_session(self, work: Callable[[], Awaitable[Any]]) -> Any:
        # A session lives inside one event loop; every public call runs its own loop.
        async with self._sdk:
            return await work()

    async def _call_waiting(
        self, bucket: str, call: Callable[[Any], Awaitable[Any]], *, paged: bool
    ) -> Page:
        """Make a read call, sleeping through 429s up to a bounded number of times."""
        for attempt in range(MAX_LISTING_RETRIES + 1):
            try:
                data, headers = await self._call(bucket, call, wait_for_budget=True)
            except OktaTransientError as error:
                delay = error.retry_at - time.time()
                if attempt == MAX_LISTING_RETRIES or delay > MAX_LISTING_WAIT_SECONDS:
                    raise
                logger.warning("Okta %s call failed (%s), retrying in %.1f s", bucket, error, delay)
                await asyncio.sleep(max(delay, 0.0))
                continue
            if not paged:
                return Page(items=data)
            return Page(items=list(data or []), next_cursor=_next_cursor(headers))
        raise AssertionError("unreachable")

    async def _call(
        self,
        bucket: str,
        call: Callable[[Any], Awaitable[Any]],
        *,
        wait_for_budget: bool,
    ) -> tuple[Any, Mapping[str, str] | None]:
        """Make one SDK call; return its data and the response headers."""
        if self.budget is not None:
            await self._respect_budget(bucket, wait_for_budget)

        try:
            result = await call(self._sdk)
        except (AttributeError, TimeoutError, OSError) as error:
            # okta 3.4.6 surfaces refused connections and timeouts as an
            # AttributeError on the missing response, not as its error value.
            self.last_call = CallInfo()
            raise OktaTransientError(
                f"No response from Okta: {type(error).__name__}: {error}",
                retry_at=time.time() + backoff_delay(0),
            ) from error

        data, response, error = _unpack(result)
        headers = _response_headers(response, error)
        reading = self._record(headers, response, error)
        if self.budget is not None and reading is not None:
            await _off_loop(self.budget.observe, bucket, reading)
        if error is not None:
            raise self._classify(error)
        return data, headers

    async def _respect_budget(self, bucket: str, wait: bool) -> None:
        hold_until = await _off_loop(self.budget.hold_until, bucket)
        if hold_until is None:
            return
        delay = hold_until - time.time()
        if delay <= 0:
            return
        if not wait:
            raise OktaTransientError(
                f"Okta rate budget for {bucket} is spent until the window resets",
                retry_at=hold_until,
            )
        logger.info("Okta rate budget for %s is low, waiting %.1f s", bucket, delay)
        await asyncio.sleep(delay)

    def _record(
        self, headers: Mapping[str, str] | None, response: Any, error: Any
    ) -> RateLimitReading | None:
        reading = read_rate_limit(headers)
        self.last_call = CallInfo(
            request_id=_header(headers, "X-Okta-Request-Id"),
            status=getattr(response, "status_code", None) or getattr(error, "status", None),
            rate_limit=reading,
        )
        return reading

    def _classify(self, error: Any) -> OktaError:
        status = getattr(error, "status", None)
        code = getattr(error, "error_code", None)
        summary = getattr(error, "error_summary", None) or str(error)
        details = {
            "status": status,
            "error_code": code,
            "request_id": self.last_call.request_id,
        }
        message = f"Okta returned {status} {code or ''}: {summary}".replace("  ", " ")

        if status == 429 or status in (500, 502, 503, 504):
            reading = self.last_call.rate_limit
            if status == 429 and reading is not None:
                retry_at = max(reading.reset_at, time.time()) + 1.0
            else:
                retry_at = time.time() + backoff_delay(0)
            return OktaTransientError(message, retry_at=retry_at, **details)
        if status == 404:
            return OktaNotFoundError(message, **details)
        if status is None:
            # The SDK builds an error without a response for failures before any
            # HTTP exchange, such as its own request timeout.
            return OktaTransientError(message, retry_at=time.time() + backoff_delay(0), **details)
        return OktaPermanentError(message, **details)


async def _off_loop(function: Callable[..., Any], *args: Any) -> Any:
    """Run a synchronous budget call outside the event loop.

    The budget may live in Django's database cache, and Django refuses database queries
    inside a running event loop. asgiref runs the call in one shared thread, so the process
    keeps a single extra database connection for it.
    """
    from asgiref.sync import sync_to_async

    return await sync_to_async(function, thread_sensitive=True)(*args)


def _unpack(result: Any) -> tuple[Any, Any, Any]:
    # okta 3.4.6 returns (data, response, error), except that calls with no response
    # body return (response, error) on some error paths.
    if isinstance(result, tuple) and len(result) == 3:
        return result
    if isinstance(result, tuple) and len(result) == 2:
        response, error = result
        return None, response, error
    return result, None, None


def _response_headers(response: Any, error: Any) -> Mapping[str, str] | None:
    headers = getattr(response, "headers", None)
    if headers is None:
        headers = getattr(error, "headers", None) or getattr(error, "response_headers", None)
    return headers


def _profile_value(profile: Any, name: str) -> str:
    value = getattr(profile, name, None)
    if value is None and getattr(profile, "additional_properties", None):
        value = profile.additional_properties.get(name)
    return "" if value is None else str(value)


def _enum_value(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def _to_user(user: Any) -> OktaUser:
    profile = user.profile
    return OktaUser(
        id=user.id,
        status=_enum_value(user.status),
        login=_profile_value(profile, "login"),
        email=_profile_value(profile, "email"),
        first_name=_profile_value(profile, "first_name"),
        last_name=_profile_value(profile, "last_name"),
        department=_profile_value(profile, "department"),
        title=_profile_value(profile, "title"),
        manager_id=_profile_value(profile, "manager_id"),
        timezone=_profile_value(profile, "timezone"),
    )


def _to_group(group: Any) -> OktaGroup:
    # GroupProfile is an anyOf wrapper in okta 3.x; the fields sit on actual_instance.
    profile = getattr(group.profile, "actual_instance", None) or group.profile
    return OktaGroup(
        id=group.id,
        name=_profile_value(profile, "name"),
        description=_profile_value(profile, "description"),
        type=_enum_value(group.type),
    )


def _to_app(app: Any) -> OktaApp:
    # list_applications returns a subclass per signOnMode; all share these fields.
    return OktaApp(
        id=app.id,
        name=str(getattr(app, "name", "") or ""),
        label=str(app.label or ""),
        sign_on_mode=_enum_value(app.sign_on_mode),
        status=_enum_value(app.status),
    )


def _to_event_hook(hook: Any) -> OktaEventHook:
    return OktaEventHook(
        id=hook.id,
        name=hook.name,
        uri=hook.channel.config.uri,
        status=str(hook.status or ""),
        verification_status=_enum_value(hook.verification_status),
    )


def _to_assignment(app_user: Any) -> OktaAppAssignment:
    return OktaAppAssignment(user_id=app_user.id, scope=str(app_user.scope or ""))


@functools.cache
def get_client() -> OktaClient:
    """Return this process's client for the org in Django's settings."""
    from django.conf import settings
    from django.core.cache import cache

    from portal.okta_rate_budget import RateBudget

    return OktaClient(
        settings.OKTA_ORG_URL,
        settings.OKTA_API_TOKEN,
        budget=RateBudget(cache),
        request_timeout=getattr(settings, "OKTA_REQUEST_TIMEOUT", 30.0),
    )
