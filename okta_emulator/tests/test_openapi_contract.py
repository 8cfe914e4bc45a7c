"""Every covered Management API response validates against Okta's published OpenAPI spec.

The spec (Okta Admin Management API, management-minimal.yaml, 3.4 MB) is loaded once per session
with openapi-core. Its own validation of the spec document is off, because the published file
fails it: some path parameters lack `required: true`.
"""

import json
import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml
from werkzeug.datastructures import Headers, ImmutableMultiDict

from .demo_org import (
    ACTIVE_ID,
    APP_GROUP_ID,
    EVERYONE_ID,
    EXPENSES_ID,
    GRAFANA_ID,
    OKTA_GROUP_ID,
    SECOND_ACTIVE_ID,
    SUSPENDED_ID,
)
from .hook_receiver import HookReceiver

SPEC_PATH = Path(
    os.environ.get(
        "OKTA_MANAGEMENT_SPEC",
        Path(__file__).resolve().parents[3] / "shared" / "okta-openapi" / "management-minimal.yaml",
    )
)


@pytest.fixture(scope="session")
def management_spec():
    from jsonschema_path import SchemaPath
    from openapi_core import Config, OpenAPI

    if not SPEC_PATH.exists():
        pytest.skip(f"Okta's OpenAPI spec not found at {SPEC_PATH}; set OKTA_MANAGEMENT_SPEC")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(SPEC_PATH.read_text(), Loader=loader)
    api = OpenAPI(SchemaPath.from_dict(document), config=Config(spec_validator_cls=None))
    api.document = document
    return api


def declared_response(spec, method, path, status):
    """Return the spec's response object for a concrete path, or None when the status is not listed."""
    candidates = []
    for template, item in spec.document["paths"].items():
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            candidates.append((template.count("{"), item[method.lower()]))
    assert candidates, f"{method} {path} is not in Okta's spec"
    operation = min(candidates, key=lambda candidate: candidate[0])[1]
    response = operation["responses"].get(str(status))
    if response and "$ref" in response:
        response = spec.document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


class SpecRequest:
    """The request side of openapi-core's protocol, addressed to the spec's server URL."""

    def __init__(self, method, path_and_query, body=None):
        parts = urlsplit(path_and_query)
        self.host_url = "https://subdomain.okta.com"
        self.path = parts.path
        self.method = method.lower()
        from openapi_core.datatypes import RequestParameters

        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(parts.query)),
            header=Headers(),
            cookie=ImmutableMultiDict(),
            path={},
        )
        self.content_type = "application/json"
        self.body = json.dumps(body).encode() if body is not None else b""

    @property
    def full_url_pattern(self):
        return self.host_url + self.path


# Fields that real Okta sends as null (see the recorded traffic: AppUser.externalId, an app's
# accessibility URLs and VPN notification texts) although its spec does not allow null there.
# The emulator copies Okta; the check drops them when null.
OKTA_NULLS_OUTSIDE_SPEC = {
    "externalId",
    "errorRedirectUrl",
    "loginRedirectUrl",
    "message",
    "helpUrl",
}


def _drop_okta_nulls(value):
    if isinstance(value, dict):
        return {
            key: _drop_okta_nulls(item)
            for key, item in value.items()
            if not (key in OKTA_NULLS_OUTSIDE_SPEC and item is None)
        }
    if isinstance(value, list):
        return [_drop_okta_nulls(item) for item in value]
    return value


class SpecResponse:
    def __init__(self, response):
        self.status_code = response.status
        body = response.body
        if body:
            body = json.dumps(_drop_okta_nulls(json.loads(body)))
        self.data = body.encode()
        self.content_type = response.headers.get("Content-Type", "")
        self.headers = Headers(list(response.headers.items()))


def check(spec, emulator, method, path, body=None, expected_status=None, undocumented=False):
    """Send the request to the emulator and validate the response against the spec.

    undocumented=True marks a status that Okta returns but its spec does not list for the
    operation (e.g. 400 E0000033 on GET /api/v1/users): the body must then match the spec's
    Error schema, and the spec must indeed not list the status.
    """
    from openapi_core.templating.responses.exceptions import ResponseNotFound

    response = emulator.request(method, path, body)
    if expected_status is not None:
        assert response.status == expected_status, response.body[:300]
    if not undocumented:
        declared = declared_response(spec, method, urlsplit(path).path, response.status)
        if declared is not None and declared.get("content") == {}:
            # openapi-core cannot check a response declared without content ("content: {}").
            # Okta returns an empty JSON object for some of these (user lifecycle calls).
            assert response.body in ("", "{}"), response.body[:300]
            return response
        validate(spec, SpecRequest(method, path, body), SpecResponse(response))
        return response
    with pytest.raises(ResponseNotFound):
        spec.validate_response(SpecRequest(method, path, body), SpecResponse(response))
    validate_error_body(spec, response.json())
    return response


def validate(spec, request, response):
    """Validate, turning openapi-core's nested schema errors into one readable assertion."""
    from openapi_core.validation.response.exceptions import InvalidData

    try:
        spec.validate_response(request, response)
    except InvalidData as error:
        schema_errors = getattr(error.__cause__, "schema_errors", None) or []
        details = sorted(
            {
                f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:160]}"
                for e in schema_errors
            }
        )
        raise AssertionError(
            f"{request.method.upper()} {request.path} -> {response.status_code}: "
            + "; ".join(details[:8])
        ) from None


def validate_error_body(spec, body):
    from openapi_schema_validator import OAS30Validator

    components = (
        (spec.spec / "components").read_value() if hasattr(spec.spec, "read_value") else None
    )
    if components is None:
        with (spec.spec / "components").open() as opened:
            components = opened
    OAS30Validator({"$ref": "#/components/schemas/Error", "components": components}).validate(body)
    assert set(body) == {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}


NEW_USER = {
    "profile": {
        "firstName": "Contract",
        "lastName": "Test",
        "email": "contract.test@example.com",
        "login": "contract.test@example.com",
    }
}


def test_user_reads(management_spec, okta_org):
    for path in (
        "/api/v1/users?limit=5",
        '/api/v1/users?search=profile.department+eq+"Sales"',
        '/api/v1/users?filter=status+eq+"SUSPENDED"',
        "/api/v1/users?q=sof",
        f"/api/v1/users/{ACTIVE_ID}",
        f"/api/v1/users/{SUSPENDED_ID}",
        f"/api/v1/users/{ACTIVE_ID}/groups",
    ):
        check(management_spec, okta_org, "GET", path, expected_status=200)


def test_user_errors(management_spec, okta_org):
    check(
        management_spec, okta_org, "GET", "/api/v1/users/00unotthere000000000", expected_status=404
    )
    check(
        management_spec,
        okta_org,
        "GET",
        '/api/v1/users?search=status+eq+"ACTIVE"&filter=status+eq+"ACTIVE"',
        expected_status=400,
        undocumented=True,
    )
    check(
        management_spec,
        okta_org,
        "GET",
        "/api/v1/users?limit=abc",
        expected_status=400,
        undocumented=True,
    )


def test_bad_token(management_spec, okta_org):
    response = okta_org.request("GET", "/api/v1/users", token="wrong")
    assert response.status == 401
    validate_error_body(management_spec, response.json())


def test_user_writes(management_spec, okta_org):
    created = check(
        management_spec, okta_org, "POST", "/api/v1/users?activate=false", NEW_USER, 200
    )
    user_id = created.json()["id"]
    check(management_spec, okta_org, "POST", "/api/v1/users", NEW_USER, 400)
    check(
        management_spec,
        okta_org,
        "POST",
        f"/api/v1/users/{user_id}/lifecycle/activate?sendEmail=false",
        expected_status=200,
    )
    check(
        management_spec,
        okta_org,
        "POST",
        f"/api/v1/users/{user_id}/lifecycle/suspend",
        expected_status=200,
    )
    check(
        management_spec,
        okta_org,
        "POST",
        f"/api/v1/users/{user_id}/lifecycle/suspend",
        expected_status=403,
    )
    check(
        management_spec,
        okta_org,
        "POST",
        f"/api/v1/users/{user_id}/lifecycle/unsuspend",
        expected_status=200,
    )
    check(
        management_spec,
        okta_org,
        "POST",
        f"/api/v1/users/{user_id}/lifecycle/deactivate",
        expected_status=200,
    )


def test_user_profile_update(management_spec, okta_org):
    created = check(management_spec, okta_org, "POST", "/api/v1/users", NEW_USER, 200)
    user_id = created.json()["id"]
    path = f"/api/v1/users/{user_id}"

    updated = check(
        management_spec, okta_org, "POST", path, {"profile": {"timezone": "Europe/Berlin"}}, 200
    )
    profile = updated.json()["profile"]
    assert profile["timezone"] == "Europe/Berlin"
    assert profile["firstName"] == "Contract"
    assert okta_org.request("GET", path).json()["profile"]["timezone"] == "Europe/Berlin"

    check(management_spec, okta_org, "POST", path, {"profile": {"email": None}}, 400)
    check(
        management_spec,
        okta_org,
        "POST",
        "/api/v1/users/00unotthere000000000",
        {"profile": {"timezone": "Europe/Berlin"}},
        404,
    )


def test_group_reads(management_spec, okta_org):
    for path in (
        "/api/v1/groups",
        "/api/v1/groups?limit=3",
        "/api/v1/groups?q=Portal",
        '/api/v1/groups?search=type+eq+"APP_GROUP"',
        '/api/v1/groups?filter=type+eq+"BUILT_IN"',
        "/api/v1/groups?expand=stats&limit=2",
        f"/api/v1/groups/{OKTA_GROUP_ID}",
        f"/api/v1/groups/{EVERYONE_ID}/users?limit=10",
    ):
        check(management_spec, okta_org, "GET", path, expected_status=200)
    check(
        management_spec, okta_org, "GET", "/api/v1/groups/00gnotthere000000000", expected_status=404
    )


def test_group_writes(management_spec, okta_org):
    created = check(
        management_spec,
        okta_org,
        "POST",
        "/api/v1/groups",
        {"profile": {"name": "Contract Group", "description": "x"}},
        200,
    )
    group_id = created.json()["id"]
    member = f"/api/v1/groups/{group_id}/users/{ACTIVE_ID}"
    check(management_spec, okta_org, "PUT", member, expected_status=204)
    check(management_spec, okta_org, "DELETE", member, expected_status=204)
    check(
        management_spec,
        okta_org,
        "PUT",
        f"/api/v1/groups/{APP_GROUP_ID}/users/{ACTIVE_ID}",
        expected_status=403,
    )
    check(
        management_spec,
        okta_org,
        "PUT",
        f"/api/v1/groups/{EVERYONE_ID}/users/{ACTIVE_ID}",
        expected_status=501,
        undocumented=True,
    )
    check(
        management_spec,
        okta_org,
        "PUT",
        f"/api/v1/groups/{group_id}/users/00unotthere000000000",
        expected_status=404,
    )
    check(management_spec, okta_org, "DELETE", f"/api/v1/groups/{group_id}", expected_status=204)


def test_app_reads(management_spec, okta_org):
    for path in (
        "/api/v1/apps",
        "/api/v1/apps?limit=2",
        "/api/v1/apps?q=Sla",
        f"/api/v1/apps/{GRAFANA_ID}",
        f"/api/v1/apps/{GRAFANA_ID}/users?limit=5",
        f"/api/v1/apps/{GRAFANA_ID}/users/{ACTIVE_ID}",
        f"/api/v1/apps/{GRAFANA_ID}/groups",
    ):
        check(management_spec, okta_org, "GET", path, expected_status=200)
    check(
        management_spec, okta_org, "GET", "/api/v1/apps/0oanotthere000000000", expected_status=404
    )


def test_app_writes(management_spec, okta_org):
    users = f"/api/v1/apps/{EXPENSES_ID}/users"
    check(management_spec, okta_org, "POST", users, {"id": ACTIVE_ID, "scope": "USER"}, 200)
    check(
        management_spec,
        okta_org,
        "POST",
        users,
        {"id": ACTIVE_ID, "scope": "USER"},
        409,
        undocumented=True,
    )
    check(management_spec, okta_org, "POST", users, {"id": SUSPENDED_ID, "scope": "USER"}, 403)
    check(management_spec, okta_org, "DELETE", f"{users}/{ACTIVE_ID}", expected_status=204)
    group = f"/api/v1/apps/{EXPENSES_ID}/groups/{OKTA_GROUP_ID}"
    check(management_spec, okta_org, "PUT", group, {}, 200)
    check(management_spec, okta_org, "GET", group, expected_status=200)
    check(management_spec, okta_org, "DELETE", group, expected_status=204)


def test_system_log(management_spec, okta_org):
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{SECOND_ACTIVE_ID}")
    okta_org.request("POST", f"/api/v1/users/{SECOND_ACTIVE_ID}/lifecycle/suspend")
    check(management_spec, okta_org, "GET", "/api/v1/logs", expected_status=200)
    check(
        management_spec,
        okta_org,
        "GET",
        '/api/v1/logs?filter=eventType+eq+"user.lifecycle.suspend"&limit=5',
        expected_status=200,
    )
    check(management_spec, okta_org, "GET", "/api/v1/logs?since=not-a-time", expected_status=400)


def test_event_hooks(management_spec, okta_org):
    with HookReceiver() as receiver:
        body = {
            "name": "contract",
            "events": {"type": "EVENT_TYPE", "items": ["user.lifecycle.suspend"]},
            "channel": {
                "type": "HTTP",
                "version": "1.0.0",
                "config": {
                    "uri": receiver.url,
                    "headers": [],
                    "authScheme": {"type": "HEADER", "key": "Authorization", "value": "x"},
                },
            },
        }
        hook_id = check(management_spec, okta_org, "POST", "/api/v1/eventHooks", body, 200).json()[
            "id"
        ]
        check(management_spec, okta_org, "GET", "/api/v1/eventHooks", expected_status=200)
        check(
            management_spec, okta_org, "GET", f"/api/v1/eventHooks/{hook_id}", expected_status=200
        )
        check(
            management_spec,
            okta_org,
            "POST",
            f"/api/v1/eventHooks/{hook_id}/lifecycle/verify",
            expected_status=200,
        )
        check(
            management_spec,
            okta_org,
            "POST",
            f"/api/v1/eventHooks/{hook_id}/lifecycle/activate",
            expected_status=200,
        )
        check(
            management_spec,
            okta_org,
            "POST",
            f"/api/v1/eventHooks/{hook_id}/lifecycle/deactivate",
            expected_status=200,
        )
        check(
            management_spec,
            okta_org,
            "DELETE",
            f"/api/v1/eventHooks/{hook_id}",
            expected_status=204,
        )


def test_rate_limited_response(management_spec, okta_org):
    okta_org.set_rate_limits(window_seconds=30, token_share=1, limits={"users_get": 1})
    okta_org.request("GET", f"/api/v1/users/{ACTIVE_ID}")
    check(management_spec, okta_org, "GET", f"/api/v1/users/{ACTIVE_ID}", expected_status=429)
