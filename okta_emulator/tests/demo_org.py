"""Names and ids of the shipped demo org that the emulator's tests rely on."""

from okta_emulator.orgs.generate_demo import (
    API_TOKEN,
    PASSWORD,
    PORTAL_CLIENT_ID,
    login_of,
    stable_id,
)

ACTIVE_LOGIN = login_of("Sofia Alvarez")
ACTIVE_ID = stable_id("00u", ACTIVE_LOGIN)
SECOND_ACTIVE_LOGIN = login_of("Kwame Asante")
SECOND_ACTIVE_ID = stable_id("00u", SECOND_ACTIVE_LOGIN)
SUSPENDED_ID = stable_id("00u", login_of("Noah Fischer"))
DEPROVISIONED_ID = stable_id("00u", login_of("Amara Okafor"))
STAGED_ID = stable_id("00u", login_of("Victor Petrov"))

EVERYONE_ID = stable_id("00g", "Everyone")
PORTAL_ADMINS_ID = stable_id("00g", "Portal Admins")
APP_GROUP_ID = stable_id("00g", "AD Helpdesk Operators")
OKTA_GROUP_ID = stable_id("00g", "Design Tools")
ENGINEERING_ID = stable_id("00g", "Engineering")

SLACK_ID = stable_id("0oa", "Slack")
EXPENSES_ID = stable_id("0oa", "Expense Reports")
GRAFANA_ID = stable_id("0oa", "Grafana")

__all__ = [name for name in dir() if name.isupper()] + ["API_TOKEN", "PASSWORD", "PORTAL_CLIENT_ID"]
