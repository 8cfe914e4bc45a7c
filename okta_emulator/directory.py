"""Users, groups, apps and their relations: the org's write operations and their JSON rendering.

Every write runs in one store transaction together with its System Log event, so an event is
recorded exactly when the change is committed. JSON is built by string splicing around the stored
profile JSON because listing pages of 200 users is the emulator's hot path.
"""

import json

from . import clock
from .errors import OktaError, not_found, validation_failed
from .store import USER_COLUMNS, app_target, group_target, user_actor, user_from_row

USER_TYPE_ID = "otyemulatordefault01"
USER_SCHEMA_ID = "oscemulatordefault01"
GROUP_LOGOS = (
    '[{"name":"medium","href":"https://ok12static.oktacdn.com/assets/img/logos/groups/odyssey/okta-medium.png",'
    '"type":"image/png"},{"name":"large","href":"https://ok12static.oktacdn.com/assets/img/logos/groups/odyssey/'
    'okta-large.png","type":"image/png"}]'
)

# Lifecycle operation -> (statuses it applies to, resulting status, System Log event type).
LIFECYCLE = {
    "activate": ({"STAGED", "PROVISIONED", "DEPROVISIONED"}, "ACTIVE", "user.lifecycle.activate"),
    "reactivate": ({"PROVISIONED"}, "PROVISIONED", "user.lifecycle.reactivate"),
    "deactivate": (
        {
            "STAGED",
            "PROVISIONED",
            "ACTIVE",
            "RECOVERY",
            "LOCKED_OUT",
            "PASSWORD_EXPIRED",
            "SUSPENDED",
        },
        "DEPROVISIONED",
        "user.lifecycle.deactivate",
    ),
    "suspend": ({"ACTIVE"}, "SUSPENDED", "user.lifecycle.suspend"),
    "unsuspend": ({"SUSPENDED"}, "ACTIVE", "user.lifecycle.unsuspend"),
    "unlock": ({"LOCKED_OUT"}, "ACTIVE", "user.account.unlock"),
}

# Links a single user carries for each status, as recorded from Okta (a list page carries only
# "self"). Okta releases differ: the emulator sends the newest recorded set.
_STATUS_LINKS = {
    "ACTIVE": (
        "suspend",
        "resetPassword",
        "forgotPassword",
        "expirePassword",
        "changeRecoveryQuestion",
        "resetFactors",
        "changePassword",
        "deactivate",
    ),
    "STAGED": ("activate", "resetFactors"),
    "PROVISIONED": ("activate", "resetFactors", "deactivate"),
    "SUSPENDED": ("unsuspend", "resetFactors", "deactivate"),
    "DEPROVISIONED": ("activate", "delete"),
    "LOCKED_OUT": ("unlock", "deactivate"),
    "PASSWORD_EXPIRED": ("suspend", "resetPassword", "deactivate"),
    "RECOVERY": ("suspend", "resetPassword", "deactivate"),
}
_LINK_PATHS = {
    "suspend": "lifecycle/suspend",
    "unsuspend": "lifecycle/unsuspend",
    "activate": "lifecycle/activate",
    "deactivate": "lifecycle/deactivate",
    "unlock": "lifecycle/unlock",
    "resetPassword": "lifecycle/reset_password",
    "expirePassword": "lifecycle/expire_password",
    "forgotPassword": "credentials/forgot_password",
    "changeRecoveryQuestion": "credentials/change_recovery_question",
    "changePassword": "credentials/change_password",
    "resetFactors": "lifecycle/reset_factors",
}


# Columns render_user_row() reads: USER_COLUMNS plus the email.
USER_RENDER_COLUMNS = USER_COLUMNS + ", json_extract(profile, '$.email')"
# Marks the org URL in users.list_doc (see schema.sql).
ORG_URL_MARKER = "\x01"


def render_user_list(docs, base):
    """Join users.list_doc values into a JSON array with the org URL filled in."""
    return ("[" + ",".join(docs) + "]").replace(ORG_URL_MARKER, base)


def _timestamp(value):
    # Timestamps are written only by clock.iso() (seed values are normalized through it), so they
    # never need JSON escaping.
    return "null" if value is None else f'"{value}"'


# --- users -------------------------------------------------------------------------------------


def user_doc_row(user):
    """Return the INSERT tuple for a users row from a dict with the users table's column names."""
    profile = user["profile"]
    return (
        user["id"],
        profile["login"].lower(),
        user["status"],
        user["created"],
        user["activated"],
        user["status_changed"],
        user["last_login"],
        user["last_updated"],
        user["password_changed"],
        json.dumps(profile, separators=(",", ":")),
        user["password_hash"],
    )


def render_user_row(row, base, full=True):
    """Render a users row (USER_RENDER_COLUMNS) as Okta's User JSON; full adds the per-status _links.

    List pages use users.list_doc instead; test_list_doc_matches_rendered_user keeps the two equal.
    """
    user_id = row[0]
    profile_json = row[8]
    email = row[9]
    self_href = f"{base}/api/v1/users/{user_id}"
    links = f'"self":{{"href":"{self_href}"}}'
    if full:
        parts = [
            links,
            f'"schema":{{"href":"{base}/api/v1/meta/schemas/user/{USER_SCHEMA_ID}"}}',
            f'"type":{{"href":"{base}/api/v1/meta/types/user/{USER_TYPE_ID}"}}',
        ]
        for name in _STATUS_LINKS.get(row[1], ()):
            if name == "delete":
                parts.append(f'"delete":{{"href":"{self_href}","method":"DELETE"}}')
            else:
                parts.append(
                    f'"{name}":{{"href":"{self_href}/{_LINK_PATHS[name]}","method":"POST"}}'
                )
        links = ",".join(parts)
    emails = (
        "[]"
        if email is None
        else f'[{{"value":{json.dumps(email)},"status":"VERIFIED","type":"PRIMARY"}}]'
    )
    return (
        f'{{"id":"{user_id}","status":"{row[1]}","created":{_timestamp(row[2])},"activated":{_timestamp(row[3])},'
        f'"statusChanged":{_timestamp(row[4])},"lastLogin":{_timestamp(row[5])},"lastUpdated":{_timestamp(row[6])},'
        f'"passwordChanged":{_timestamp(row[7])},"type":{{"id":"{USER_TYPE_ID}"}},"profile":{profile_json},'
        f'"credentials":{{"password":{{}},"emails":{emails},"provider":{{"type":"OKTA","name":"OKTA"}}}},'
        f'"_links":{{{links}}}}}'
    )


def find_user_row(store, user_id_or_login):
    row = store.db.execute(
        f"SELECT {USER_RENDER_COLUMNS} FROM users WHERE id = ?", (user_id_or_login,)
    ).fetchone()
    if row is None:
        row = store.db.execute(
            f"SELECT {USER_RENDER_COLUMNS} FROM users WHERE login_lower = ?",
            (user_id_or_login.lower(),),
        ).fetchone()
    if row is None:
        raise not_found(user_id_or_login, "User")
    return row


def require_user(store, user_id_or_login):
    return user_from_row(find_user_row(store, user_id_or_login))


def create_user(store, body, activate, actor, request):
    """Create a user from Okta's CreateUserRequest body; activate=True makes it ACTIVE at once."""
    from werkzeug.security import generate_password_hash

    from .seed import PASSWORD_HASH_METHOD

    if not isinstance(body, dict) or not isinstance(body.get("profile"), dict):
        raise validation_failed("profile", "The field cannot be left blank.")
    # Okta's base profile always carries these two attributes, null when unset.
    profile = {"mobilePhone": None, "secondEmail": None, **body["profile"]}
    missing = [
        field for field in ("login", "firstName", "lastName", "email") if not profile.get(field)
    ]
    if missing:
        causes = [f"{field}: The field cannot be left blank" for field in missing]
        raise OktaError(
            "E0000001",
            "login: The field cannot be left blank",
            causes=causes,
            summary="Api validation failed: " + ", ".join(missing),
        )
    password = ((body.get("credentials") or {}).get("password") or {}).get("value")
    now = clock.now_iso()
    user = {
        "id": clock.new_id("00u"),
        "status": "ACTIVE" if activate else "STAGED",
        "created": now,
        "activated": now if activate else None,
        "status_changed": now if activate else None,
        "last_login": None,
        "last_updated": now,
        "password_changed": now if password else None,
        "profile": profile,
        "password_hash": generate_password_hash(password, method=PASSWORD_HASH_METHOD)
        if password
        else None,
    }
    with store.transaction() as db:
        taken = db.execute(
            "SELECT 1 FROM users WHERE login_lower = ?", (profile["login"].lower(),)
        ).fetchone()
        if taken:
            raise OktaError(
                "E0000001",
                "login: An object with this field already exists in the current organization",
                causes=[
                    "login: An object with this field already exists in the current organization"
                ],
            )
        db.execute(
            "INSERT INTO users (id, login_lower, status, created, activated, status_changed, last_login, "
            "last_updated, password_changed, profile, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            user_doc_row(user),
        )
        everyone = db.execute(
            "SELECT id FROM groups WHERE type = 'BUILT_IN' AND "
            "json_extract(profile, '$.name') = 'Everyone'"
        ).fetchone()
        if everyone:
            db.execute(
                "INSERT INTO group_members (group_id, user_id, created) VALUES (?, ?, ?)",
                (everyone["id"], user["id"], now),
            )
        created = user_from_row(find_user_row(store, user["id"]))
        store.record_event(
            "user.lifecycle.create",
            actor,
            [user_actor(created)],
            "SUCCESS",
            "Create Okta user",
            request=request,
        )
        if activate:
            store.record_event(
                "user.lifecycle.activate",
                actor,
                [user_actor(created)],
                "SUCCESS",
                "Activate Okta user",
                request=request,
            )
        for group_id in body.get("groupIds") or []:
            add_member(store, group_id, user["id"], actor, request)
    return user["id"]


# Base profile attributes that a user always has, so a partial update cannot clear them.
REQUIRED_PROFILE_FIELDS = ("login", "firstName", "lastName", "email")


def update_user_profile(store, user_id, body, actor, request):
    """Apply Okta's partial update of a user's profile (POST /api/v1/users/{id}).

    Attributes named in `body["profile"]` change and the others stay. Credentials are not
    emulated, so a body with `credentials` gets 400 E0000001 naming that field.
    """
    if not isinstance(body, dict) or not isinstance(body.get("profile"), dict):
        raise validation_failed("profile", "The field cannot be left blank.")
    if "credentials" in body:
        raise validation_failed("credentials", "The emulator does not support credential updates.")
    with store.transaction() as db:
        user = require_user(store, user_id)
        profile = {**user["profile"], **body["profile"]}
        missing = [field for field in REQUIRED_PROFILE_FIELDS if not profile.get(field)]
        if missing:
            causes = [f"{field}: The field cannot be left blank" for field in missing]
            raise OktaError(
                "E0000001",
                f"{missing[0]}: The field cannot be left blank",
                causes=causes,
                summary="Api validation failed: " + ", ".join(missing),
            )
        taken = db.execute(
            "SELECT 1 FROM users WHERE login_lower = ? AND id != ?",
            (profile["login"].lower(), user["id"]),
        ).fetchone()
        if taken:
            message = "login: An object with this field already exists in the current organization"
            raise OktaError("E0000001", message, causes=[message])
        db.execute(
            "UPDATE users SET profile = ?, login_lower = ?, last_updated = ? WHERE id = ?",
            (
                json.dumps(profile, separators=(",", ":")),
                profile["login"].lower(),
                clock.now_iso(),
                user["id"],
            ),
        )
        updated = require_user(store, user["id"])
        store.record_event(
            "user.account.update_profile",
            actor,
            [user_actor(updated)],
            "SUCCESS",
            "Update user profile for Okta",
            request=request,
        )
    return user["id"]


def change_status(store, user_id, operation, actor, request):
    """Apply a lifecycle operation and return the user as it was before; 403 E0000038 if not allowed."""
    allowed, new_status, event_type = LIFECYCLE[operation]
    with store.transaction() as db:
        user = require_user(store, user_id)
        if user["status"] not in allowed:
            raise OktaError("E0000038")
        now = clock.now_iso()
        db.execute(
            "UPDATE users SET status = ?, status_changed = ?, last_updated = ?, "
            "activated = CASE WHEN ? = 'activate' THEN ? ELSE activated END WHERE id = ?",
            (new_status, now, now, operation, now, user["id"]),
        )
        if new_status == "DEPROVISIONED":
            # Okta removes a deactivated user's app assignments; group memberships stay.
            db.execute("DELETE FROM app_users WHERE user_id = ?", (user["id"],))
        display = {
            "activate": "Activate Okta user",
            "deactivate": "Deactivate Okta user",
            "suspend": "Suspend Okta user",
            "unsuspend": "Unsuspend Okta user",
        }.get(operation, f"{operation} Okta user")
        store.record_event(
            event_type, actor, [user_actor(user)], "SUCCESS", display, request=request
        )
    return user


def delete_user(store, user_id, actor, request):
    """Delete a DEPROVISIONED user; a user in any other status is deactivated instead (Okta's rule)."""
    with store.transaction() as db:
        user = require_user(store, user_id)
        if user["status"] != "DEPROVISIONED":
            change_status(store, user["id"], "deactivate", actor, request)
            return
        for table in ("group_members", "app_users"):
            db.execute(f"DELETE FROM {table} WHERE user_id = ?", (user["id"],))
        db.execute("DELETE FROM users WHERE id = ?", (user["id"],))
        store.record_event(
            "user.lifecycle.delete.completed",
            actor,
            [user_actor(user)],
            "SUCCESS",
            "Delete Okta user",
            request=request,
        )


# --- groups ------------------------------------------------------------------------------------


def render_group(row, base):
    group_id = row["id"]
    return (
        f'{{"id":"{group_id}","created":"{row["created"]}","lastUpdated":"{row["last_updated"]}",'
        f'"lastMembershipUpdated":"{row["last_membership_updated"]}","objectClass":["okta:user_group"],'
        f'"type":"{row["type"]}","profile":{row["profile"]},"_links":{{"logo":{GROUP_LOGOS},'
        f'"users":{{"href":"{base}/api/v1/groups/{group_id}/users"}},'
        f'"apps":{{"href":"{base}/api/v1/groups/{group_id}/apps"}}}}}}'
    )


def find_group(store, group_id):
    row = store.db.execute("SELECT * FROM groups WHERE id = ?", (group_id,)).fetchone()
    if row is None:
        raise not_found(group_id, "UserGroup")
    return row


def group_dict(row):
    return {"id": row["id"], "type": row["type"], "profile": json.loads(row["profile"])}


def create_group(store, body, actor, request):
    profile = body.get("profile") if isinstance(body, dict) else None
    if not isinstance(profile, dict) or not profile.get("name"):
        raise validation_failed("name", "The field cannot be left blank.")
    profile = {"name": profile["name"], "description": profile.get("description"), **profile}
    now = clock.now_iso()
    group_id = clock.new_id("00g")
    with store.transaction() as db:
        taken = db.execute(
            "SELECT 1 FROM groups WHERE json_extract(profile, '$.name') = ?", (profile["name"],)
        ).fetchone()
        if taken:
            raise validation_failed(
                "name", "An object with this field already exists in the current organization"
            )
        db.execute(
            "INSERT INTO groups (id, type, created, last_updated, last_membership_updated, profile) "
            "VALUES (?, 'OKTA_GROUP', ?, ?, ?, ?)",
            (group_id, now, now, now, json.dumps(profile, separators=(",", ":"))),
        )
        group = {"id": group_id, "profile": profile}
        store.record_event(
            "group.lifecycle.create",
            actor,
            [group_target(group)],
            "SUCCESS",
            "Create Okta group",
            request=request,
        )
    return group_id


def delete_group(store, group_id, actor, request):
    with store.transaction() as db:
        row = find_group(store, group_id)
        if row["type"] != "OKTA_GROUP":
            raise OktaError("E0000060" if row["type"] == "BUILT_IN" else "E0000006")
        group = group_dict(row)
        app_ids = [
            r["app_id"]
            for r in db.execute("SELECT app_id FROM app_groups WHERE group_id = ?", (group_id,))
        ]
        members = [
            r["user_id"]
            for r in db.execute("SELECT user_id FROM group_members WHERE group_id = ?", (group_id,))
        ]
        db.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
        db.execute("DELETE FROM app_groups WHERE group_id = ?", (group_id,))
        for app_id in app_ids:
            for user_id in members:
                _drop_group_scoped_app_user(db, app_id, user_id)
        db.execute("DELETE FROM groups WHERE id = ?", (group_id,))
        store.record_event(
            "group.lifecycle.delete",
            actor,
            [group_target(group)],
            "SUCCESS",
            "Delete Okta group",
            request=request,
        )


def _writable_group(store, group_id):
    """Return the group if its membership may be changed; raise Okta's error otherwise.

    BUILT_IN groups get 501 E0000060 as Okta documents. Okta does not document the answer
    for APP_GROUP groups; the emulator returns 403 E0000006 (one of the statuses Okta's spec lists
    for these calls) with a cause naming the group type.
    """
    row = find_group(store, group_id)
    if row["type"] == "BUILT_IN":
        raise OktaError("E0000060")
    if row["type"] == "APP_GROUP":
        raise OktaError(
            "E0000006",
            causes=[
                "Cannot add or remove members of an APP_GROUP: its membership is managed by the app that "
                "imported it"
            ],
        )
    return row


def add_member(store, group_id, user_id, actor, request):
    """PUT a user into a group. Repeating it is a no-op that still returns 204 (no new event)."""
    with store.transaction() as db:
        group_row = _writable_group(store, group_id)
        user = require_user(store, user_id)
        exists = db.execute(
            "SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?", (group_id, user["id"])
        ).fetchone()
        if exists:
            return False
        now = clock.now_iso()
        db.execute(
            "INSERT INTO group_members (group_id, user_id, created) VALUES (?, ?, ?)",
            (group_id, user["id"], now),
        )
        db.execute("UPDATE groups SET last_membership_updated = ? WHERE id = ?", (now, group_id))
        for app in db.execute(
            "SELECT app_id FROM app_groups WHERE group_id = ?", (group_id,)
        ).fetchall():
            db.execute(
                "INSERT OR IGNORE INTO app_users (app_id, user_id, scope, status, created, last_updated, "
                "status_changed) VALUES (?, ?, 'GROUP', 'ACTIVE', ?, ?, ?)",
                (app["app_id"], user["id"], now, now, now),
            )
        store.record_event(
            "group.user_membership.add",
            actor,
            [user_actor(user), group_target(group_dict(group_row))],
            "SUCCESS",
            "Add user to group membership",
            request=request,
        )
    return True


def remove_member(store, group_id, user_id, actor, request):
    """DELETE a user from a group. Removing a non-member returns 204 too (no event)."""
    with store.transaction() as db:
        group_row = _writable_group(store, group_id)
        user = require_user(store, user_id)
        deleted = db.execute(
            "DELETE FROM group_members WHERE group_id = ? AND user_id = ?", (group_id, user["id"])
        ).rowcount
        if not deleted:
            return False
        now = clock.now_iso()
        db.execute("UPDATE groups SET last_membership_updated = ? WHERE id = ?", (now, group_id))
        for app in db.execute(
            "SELECT app_id FROM app_groups WHERE group_id = ?", (group_id,)
        ).fetchall():
            _drop_group_scoped_app_user(db, app["app_id"], user["id"])
        store.record_event(
            "group.user_membership.remove",
            actor,
            [user_actor(user), group_target(group_dict(group_row))],
            "SUCCESS",
            "Remove user from group membership",
            request=request,
        )
    return True


def _drop_group_scoped_app_user(db, app_id, user_id):
    """Remove a GROUP-scoped app user once no group assigned to the app still contains the user."""
    still = db.execute(
        "SELECT 1 FROM app_groups ag JOIN group_members m ON m.group_id = ag.group_id "
        "WHERE ag.app_id = ? AND m.user_id = ?",
        (app_id, user_id),
    ).fetchone()
    if not still:
        db.execute(
            "DELETE FROM app_users WHERE app_id = ? AND user_id = ? AND scope = 'GROUP'",
            (app_id, user_id),
        )


# --- apps --------------------------------------------------------------------------------------


def find_app(store, app_id):
    row = store.db.execute("SELECT * FROM apps WHERE id = ?", (app_id,)).fetchone()
    if row is None:
        raise not_found(app_id, "AppInstance")
    return row


def app_dict(row):
    return {"id": row["id"], "label": row["label"], "name": row["name"]}


def render_app(row, base):
    app_id = row["id"]
    settings = json.loads(row["settings"] or "{}")
    settings.setdefault("app", {})
    settings.setdefault("extendedProperties", None)
    settings.setdefault(
        "notifications",
        {"vpn": {"network": {"connection": "DISABLED"}, "message": None, "helpUrl": None}},
    )
    lifecycle = "deactivate" if row["status"] == "ACTIVE" else "activate"
    doc = {
        "id": app_id,
        "name": row["name"],
        "label": row["label"],
        "status": row["status"],
        "lastUpdated": row["last_updated"],
        "created": row["created"],
        # Okta sends these two as null although its published schema does not allow null there.
        "accessibility": {"selfService": False, "errorRedirectUrl": None, "loginRedirectUrl": None},
        "visibility": {
            "autoSubmitToolbar": False,
            "hide": {"iOS": False, "web": False},
            "appLinks": {"login": True},
        },
        "features": [],
        "signOnMode": row["sign_on_mode"],
        "credentials": {
            "userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"},
            "signing": {},
        },
        "settings": settings,
        "_links": {
            "appLinks": [
                {
                    "name": "login",
                    "href": f"{base}/home/{row['name']}/{app_id}/login",
                    "type": "text/html",
                }
            ],
            "groups": {"href": f"{base}/api/v1/apps/{app_id}/groups"},
            "logo": [
                {
                    "name": "medium",
                    "href": "https://ok12static.oktacdn.com/assets/img/logos/default.png",
                    "type": "image/png",
                }
            ],
            "users": {"href": f"{base}/api/v1/apps/{app_id}/users"},
            lifecycle: {"href": f"{base}/api/v1/apps/{app_id}/lifecycle/{lifecycle}"},
        },
    }
    return json.dumps(doc, separators=(",", ":"))


def render_app_user(row, base):
    """Render an app_users row joined with users.profile (column user_profile) as Okta's AppUser."""
    app_id, user_id = row["app_id"], row["user_id"]
    login = json.loads(row["user_profile"]).get("login")
    return (
        f'{{"id":"{user_id}","externalId":null,"created":"{row["created"]}","lastUpdated":"{row["last_updated"]}",'
        f'"scope":"{row["scope"]}","status":"{row["status"]}","statusChanged":"{row["status_changed"]}",'
        f'"passwordChanged":null,"syncState":"DISABLED","credentials":{{"userName":{json.dumps(login)}}},'
        f'"profile":{row["profile"]},"_links":{{"app":{{"href":"{base}/api/v1/apps/{app_id}"}},'
        f'"user":{{"href":"{base}/api/v1/users/{user_id}"}}}}}}'
    )


def render_app_group(row, base):
    app_id, group_id = row["app_id"], row["group_id"]
    return (
        f'{{"id":"{group_id}","lastUpdated":"{row["last_updated"]}","priority":{row["priority"]},'
        f'"profile":{row["profile"]},"_links":{{"app":{{"href":"{base}/api/v1/apps/{app_id}"}},'
        f'"self":{{"href":"{base}/api/v1/apps/{app_id}/groups/{group_id}"}},'
        f'"group":{{"href":"{base}/api/v1/groups/{group_id}"}}}}}}'
    )


APP_USER_SELECT = (
    "SELECT au.*, u.profile AS user_profile FROM app_users au JOIN users u ON u.id = au.user_id "
)


def find_app_user(store, app_id, user_id):
    row = store.db.execute(
        APP_USER_SELECT + "WHERE au.app_id = ? AND au.user_id = ?", (app_id, user_id)
    ).fetchone()
    if row is None:
        raise not_found(user_id, "AppUser")
    return row


def assign_user(store, app_id, body, actor, request):
    """Assign a user to an app directly (scope USER).

    An inactive user gets 403 E0000117. A user already assigned directly gets 409 E0000062; a user
    who so far had the app only through a group becomes directly assigned (scope USER), 200.
    """
    if not isinstance(body, dict) or not body.get("id"):
        raise validation_failed("id", "The field cannot be left blank.")
    with store.transaction() as db:
        app_row = find_app(store, app_id)
        user = require_user(store, body["id"])
        if user["status"] not in ("ACTIVE", "PASSWORD_EXPIRED", "LOCKED_OUT", "RECOVERY"):
            raise OktaError("E0000117")
        existing = db.execute(
            "SELECT scope FROM app_users WHERE app_id = ? AND user_id = ?", (app_id, user["id"])
        ).fetchone()
        if existing and existing["scope"] == "USER":
            raise OktaError("E0000062")
        now = clock.now_iso()
        profile = json.dumps(body.get("profile") or {}, separators=(",", ":"))
        if existing:
            db.execute(
                "UPDATE app_users SET scope = 'USER', last_updated = ?, profile = ? "
                "WHERE app_id = ? AND user_id = ?",
                (now, profile, app_id, user["id"]),
            )
        else:
            db.execute(
                "INSERT INTO app_users (app_id, user_id, scope, status, created, last_updated, status_changed, "
                "profile) VALUES (?, ?, 'USER', 'ACTIVE', ?, ?, ?, ?)",
                (app_id, user["id"], now, now, now, profile),
            )
            store.record_event(
                "application.user_membership.add",
                actor,
                [user_actor(user), app_target(app_dict(app_row))],
                "SUCCESS",
                "Add user to application membership",
                request=request,
            )
    return user["id"]


def unassign_user(store, app_id, user_id, actor, request):
    """Remove a direct assignment. A user who also gets the app through a group keeps it (scope GROUP)."""
    with store.transaction() as db:
        app_row = find_app(store, app_id)
        user = require_user(store, user_id)
        existing = db.execute(
            "SELECT scope FROM app_users WHERE app_id = ? AND user_id = ?", (app_id, user["id"])
        ).fetchone()
        if existing is None:
            raise not_found(user_id, "AppUser")
        through_group = db.execute(
            "SELECT 1 FROM app_groups ag JOIN group_members m ON m.group_id = ag.group_id "
            "WHERE ag.app_id = ? AND m.user_id = ?",
            (app_id, user["id"]),
        ).fetchone()
        if through_group:
            db.execute(
                "UPDATE app_users SET scope = 'GROUP', last_updated = ? WHERE app_id = ? AND user_id = ?",
                (clock.now_iso(), app_id, user["id"]),
            )
            return
        db.execute("DELETE FROM app_users WHERE app_id = ? AND user_id = ?", (app_id, user["id"]))
        store.record_event(
            "application.user_membership.remove",
            actor,
            [user_actor(user), app_target(app_dict(app_row))],
            "SUCCESS",
            "Remove user from application membership",
            request=request,
        )


def assign_group(store, app_id, group_id, body, actor, request):
    """Assign a group to an app; its members get the app with scope GROUP. Repeating it updates it."""
    with store.transaction() as db:
        app_row = find_app(store, app_id)
        group_row = find_group(store, group_id)
        now = clock.now_iso()
        body = body if isinstance(body, dict) else {}
        priority = body.get("priority", 0)
        if not isinstance(priority, int):
            raise validation_failed("priority", "must be an integer")
        profile = json.dumps(body.get("profile") or {}, separators=(",", ":"))
        existed = db.execute(
            "SELECT 1 FROM app_groups WHERE app_id = ? AND group_id = ?", (app_id, group_id)
        ).fetchone()
        db.execute(
            "INSERT OR REPLACE INTO app_groups (app_id, group_id, priority, last_updated, profile) "
            "VALUES (?, ?, ?, ?, ?)",
            (app_id, group_id, priority, now, profile),
        )
        db.execute(
            "INSERT OR IGNORE INTO app_users (app_id, user_id, scope, status, created, last_updated, "
            "status_changed) SELECT ?, m.user_id, 'GROUP', 'ACTIVE', ?, ?, ? FROM group_members m "
            "JOIN users u ON u.id = m.user_id WHERE m.group_id = ? AND u.status != 'DEPROVISIONED'",
            (app_id, now, now, now, group_id),
        )
        if not existed:
            store.record_event(
                "group.application_assignment.add",
                actor,
                [app_target(app_dict(app_row)), group_target(group_dict(group_row))],
                "SUCCESS",
                "Add assigned application to group",
                request=request,
            )


def unassign_group(store, app_id, group_id, actor, request):
    with store.transaction() as db:
        app_row = find_app(store, app_id)
        group_row = find_group(store, group_id)
        deleted = db.execute(
            "DELETE FROM app_groups WHERE app_id = ? AND group_id = ?", (app_id, group_id)
        ).rowcount
        if not deleted:
            raise not_found(group_id, "ApplicationGroupAssignment")
        for member in db.execute(
            "SELECT user_id FROM group_members WHERE group_id = ?", (group_id,)
        ).fetchall():
            _drop_group_scoped_app_user(db, app_id, member["user_id"])
        store.record_event(
            "group.application_assignment.remove",
            actor,
            [app_target(app_dict(app_row)), group_target(group_dict(group_row))],
            "SUCCESS",
            "Remove assigned application from group",
            request=request,
        )


def activation_token():
    """Return a one-off activation token in Okta's shape (the emulator never checks it)."""
    return clock.new_id("U_Y")


APP_SIGN_ON_MODES = {
    "BOOKMARK",
    "AUTO_LOGIN",
    "BASIC_AUTH",
    "BROWSER_PLUGIN",
    "OPENID_CONNECT",
    "SAML_1_1",
    "SAML_2_0",
    "SECURE_PASSWORD_STORE",
    "WS_FEDERATION",
}


def create_app(store, body, activate, actor, request):
    """Create an app instance (the emulator keeps name, label, signOnMode and settings)."""
    if not isinstance(body, dict):
        raise validation_failed("body", "must be a JSON object")
    missing = [field for field in ("name", "label", "signOnMode") if not body.get(field)]
    if missing:
        raise OktaError(
            "E0000001",
            ", ".join(missing),
            causes=[f"{field}: The field cannot be left blank." for field in missing],
        )
    if body["signOnMode"] not in APP_SIGN_ON_MODES:
        raise validation_failed("signOnMode", f"must be one of {sorted(APP_SIGN_ON_MODES)}")
    app_id = clock.new_id("0oa")
    now = clock.now_iso()
    with store.transaction() as db:
        db.execute(
            "INSERT INTO apps (id, name, label, status, sign_on_mode, created, last_updated, settings) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                app_id,
                body["name"],
                body["label"],
                "ACTIVE" if activate else "INACTIVE",
                body["signOnMode"],
                now,
                now,
                json.dumps(body.get("settings") or {}, separators=(",", ":")),
            ),
        )
        store.record_event(
            "application.lifecycle.create",
            actor,
            [app_target({"id": app_id, "label": body["label"]})],
            "SUCCESS",
            "Add application",
            request=request,
        )
    return app_id


def set_app_status(store, app_id, activate, actor, request):
    with store.transaction() as db:
        row = find_app(store, app_id)
        status = "ACTIVE" if activate else "INACTIVE"
        if row["status"] == status:
            return
        db.execute(
            "UPDATE apps SET status = ?, last_updated = ? WHERE id = ?",
            (status, clock.now_iso(), app_id),
        )
        event_type = (
            "application.lifecycle.activate" if activate else "application.lifecycle.deactivate"
        )
        store.record_event(
            event_type,
            actor,
            [app_target(app_dict(row))],
            "SUCCESS",
            "Activate application" if activate else "Deactivate application",
            request=request,
        )


def delete_app(store, app_id, actor, request):
    """Delete an INACTIVE app; Okta refuses to delete an active one (400 E0000001)."""
    with store.transaction() as db:
        row = find_app(store, app_id)
        if row["status"] == "ACTIVE":
            raise validation_failed("status", "Deactivate the application before deleting it")
        for table in ("app_users", "app_groups"):
            db.execute(f"DELETE FROM {table} WHERE app_id = ?", (app_id,))
        db.execute("UPDATE oauth_clients SET app_id = NULL WHERE app_id = ?", (app_id,))
        db.execute("DELETE FROM apps WHERE id = ?", (app_id,))
        store.record_event(
            "application.lifecycle.delete",
            actor,
            [app_target(app_dict(row))],
            "SUCCESS",
            "Delete application",
            request=request,
        )
