"""Generate orgs/demo.yaml, the shipped demo org. Run: python -m okta_emulator.orgs.generate_demo

The output is committed; ids come from a hash of each object's name, so regenerating keeps them.
"""

import hashlib
import string
import sys
from pathlib import Path

import yaml

ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
DOMAIN = "example.com"
SEED_TIME = "2025-01-06T09:00:00.000Z"


def stable_id(prefix, name):
    """Return a 20-character Okta-style id derived from name, e.g. "00u" + 17 base-62 characters."""
    number = int.from_bytes(hashlib.sha256(f"{prefix}:{name}".encode()).digest(), "big")
    chars = []
    while len(chars) < 20 - len(prefix):
        number, digit = divmod(number, 62)
        chars.append(ALPHABET[digit])
    return prefix + "".join(chars)


# (first name, last name, department, title, manager's "first last" or None, status)
PEOPLE = [
    ("Avery", "Stone", "Executive", "Chief Executive Officer", None, "ACTIVE"),
    ("Jordan", "Blake", "Engineering", "VP Engineering", "Avery Stone", "ACTIVE"),
    (
        "Priya",
        "Natarajan",
        "Engineering",
        "Engineering Manager, Platform",
        "Jordan Blake",
        "ACTIVE",
    ),
    ("Marcus", "Lee", "Engineering", "Engineering Manager, Product", "Jordan Blake", "ACTIVE"),
    ("Sofia", "Alvarez", "Engineering", "Senior Software Engineer", "Priya Natarajan", "ACTIVE"),
    ("Liam", "O'Connor", "Engineering", "Software Engineer", "Priya Natarajan", "ACTIVE"),
    ("Chen", "Wei", "Engineering", "Site Reliability Engineer", "Priya Natarajan", "ACTIVE"),
    ("Fatima", "Haddad", "Engineering", "Software Engineer", "Priya Natarajan", "ACTIVE"),
    ("Noah", "Fischer", "Engineering", "Software Engineer", "Priya Natarajan", "SUSPENDED"),
    ("Emma", "Johansson", "Engineering", "Senior Software Engineer", "Marcus Lee", "ACTIVE"),
    ("Diego", "Ramirez", "Engineering", "Software Engineer", "Marcus Lee", "ACTIVE"),
    ("Hana", "Sato", "Engineering", "Frontend Engineer", "Marcus Lee", "ACTIVE"),
    ("Oliver", "Brown", "Engineering", "QA Engineer", "Marcus Lee", "ACTIVE"),
    ("Amara", "Okafor", "Engineering", "Software Engineer", "Marcus Lee", "DEPROVISIONED"),
    ("Isabella", "Rossi", "Engineering", "Data Engineer", "Priya Natarajan", "ACTIVE"),
    ("Ethan", "Walker", "Engineering", "Security Engineer", "Jordan Blake", "ACTIVE"),
    ("Grace", "Kim", "Sales", "VP Sales", "Avery Stone", "ACTIVE"),
    ("Henry", "Adams", "Sales", "Sales Manager, EMEA", "Grace Kim", "ACTIVE"),
    ("Chloe", "Martin", "Sales", "Account Executive", "Henry Adams", "ACTIVE"),
    ("Lucas", "Dubois", "Sales", "Account Executive", "Henry Adams", "ACTIVE"),
    ("Mia", "Schmidt", "Sales", "Sales Development Representative", "Henry Adams", "ACTIVE"),
    ("Samuel", "Green", "Sales", "Sales Manager, Americas", "Grace Kim", "ACTIVE"),
    ("Zoe", "Turner", "Sales", "Account Executive", "Samuel Green", "ACTIVE"),
    ("Benjamin", "Clark", "Sales", "Account Executive", "Samuel Green", "SUSPENDED"),
    ("Aisha", "Khan", "Sales", "Solutions Engineer", "Samuel Green", "ACTIVE"),
    (
        "Daniel",
        "Novak",
        "Sales",
        "Sales Development Representative",
        "Samuel Green",
        "DEPROVISIONED",
    ),
    ("Olivia", "Bennett", "Marketing", "VP Marketing", "Avery Stone", "ACTIVE"),
    ("Mateo", "Silva", "Marketing", "Content Marketing Manager", "Olivia Bennett", "ACTIVE"),
    ("Ella", "Novak", "Marketing", "Product Marketing Manager", "Olivia Bennett", "ACTIVE"),
    ("Ryan", "Murphy", "Marketing", "Designer", "Olivia Bennett", "ACTIVE"),
    ("Leah", "Cohen", "Marketing", "Marketing Operations Specialist", "Olivia Bennett", "ACTIVE"),
    ("Victor", "Petrov", "Marketing", "Growth Marketer", "Olivia Bennett", "STAGED"),
    ("Charlotte", "Evans", "Finance", "Chief Financial Officer", "Avery Stone", "ACTIVE"),
    ("Arjun", "Mehta", "Finance", "Controller", "Charlotte Evans", "ACTIVE"),
    ("Nora", "Lindqvist", "Finance", "Accountant", "Arjun Mehta", "ACTIVE"),
    ("Tomas", "Horvat", "Finance", "Financial Analyst", "Arjun Mehta", "ACTIVE"),
    ("Yara", "Nasser", "Finance", "Accounts Payable Specialist", "Arjun Mehta", "DEPROVISIONED"),
    ("Julia", "Weber", "People", "Head of People", "Avery Stone", "ACTIVE"),
    ("Kofi", "Mensah", "People", "Recruiter", "Julia Weber", "ACTIVE"),
    ("Laura", "Costa", "People", "People Partner", "Julia Weber", "ACTIVE"),
    ("Ivan", "Kuznetsov", "People", "Recruiter", "Julia Weber", "ACTIVE"),
    ("Ngozi", "Adeyemi", "IT", "Head of IT", "Avery Stone", "ACTIVE"),
    ("Patrick", "Doyle", "IT", "IT Administrator", "Ngozi Adeyemi", "ACTIVE"),
    ("Mei", "Lin", "IT", "Identity Engineer", "Ngozi Adeyemi", "ACTIVE"),
    ("Jonas", "Berg", "IT", "Helpdesk Technician", "Ngozi Adeyemi", "ACTIVE"),
    ("Sara", "Ali", "IT", "Helpdesk Technician", "Ngozi Adeyemi", "SUSPENDED"),
    ("Portal", "Service", "IT", "Service account of the access portal", "Ngozi Adeyemi", "ACTIVE"),
    ("Thomas", "Wright", "Support", "Head of Support", "Avery Stone", "ACTIVE"),
    ("Elena", "Popescu", "Support", "Support Team Lead", "Thomas Wright", "ACTIVE"),
    ("Kwame", "Asante", "Support", "Support Engineer", "Elena Popescu", "ACTIVE"),
    ("Lucia", "Moreno", "Support", "Support Engineer", "Elena Popescu", "ACTIVE"),
    ("Finn", "Larsen", "Support", "Support Engineer", "Elena Popescu", "ACTIVE"),
    ("Ayumi", "Tanaka", "Support", "Support Engineer", "Elena Popescu", "ACTIVE"),
    ("Omar", "Farouk", "Support", "Technical Account Manager", "Thomas Wright", "ACTIVE"),
    ("Ruby", "Hughes", "Support", "Support Engineer", "Elena Popescu", "DEPROVISIONED"),
    ("Matteo", "Conti", "Engineering", "Software Engineer", "Marcus Lee", "ACTIVE"),
    ("Ingrid", "Solberg", "Engineering", "Site Reliability Engineer", "Priya Natarajan", "ACTIVE"),
    ("Rahul", "Verma", "Engineering", "Software Engineer", "Marcus Lee", "ACTIVE"),
    ("Camille", "Laurent", "Marketing", "Event Manager", "Olivia Bennett", "ACTIVE"),
    ("Adam", "Nowak", "Sales", "Account Executive", "Henry Adams", "ACTIVE"),
    ("Beatriz", "Santos", "Finance", "Payroll Specialist", "Arjun Mehta", "ACTIVE"),
    ("Hugo", "Meyer", "Engineering", "Software Engineer", "Priya Natarajan", "ACTIVE"),
    ("Tariq", "Aziz", "Support", "Support Engineer", "Elena Popescu", "ACTIVE"),
    ("Wendy", "Zhao", "People", "People Operations Specialist", "Julia Weber", "ACTIVE"),
]

DEPARTMENT_GROUPS = [
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "People",
    "IT",
    "Support",
    "Executive",
]

# (name, description, type, member selector)
EXTRA_GROUPS = [
    (
        "Portal Admins",
        "Administrators of the access portal",
        "OKTA_GROUP",
        ["Ngozi Adeyemi", "Patrick Doyle", "Mei Lin"],
    ),
    (
        "GitHub Developers",
        "Write access to the company's GitHub organization",
        "OKTA_GROUP",
        "dept:Engineering",
    ),
    (
        "GitHub Admins",
        "Owners of the company's GitHub organization",
        "OKTA_GROUP",
        ["Jordan Blake", "Priya Natarajan"],
    ),
    (
        "AWS Production ReadOnly",
        "Read-only access to the production AWS accounts",
        "OKTA_GROUP",
        ["Sofia Alvarez", "Chen Wei", "Ingrid Solberg", "Ethan Walker"],
    ),
    (
        "AWS Production Admin",
        "Administrator access to the production AWS accounts",
        "OKTA_GROUP",
        ["Chen Wei", "Ingrid Solberg"],
    ),
    (
        "AWS Staging Developers",
        "Developer access to the staging AWS accounts",
        "OKTA_GROUP",
        ["Sofia Alvarez", "Liam O'Connor", "Fatima Haddad", "Emma Johansson", "Diego Ramirez"],
    ),
    (
        "On-Call Engineers",
        "Receive production pages",
        "OKTA_GROUP",
        ["Chen Wei", "Ingrid Solberg", "Sofia Alvarez", "Hugo Meyer"],
    ),
    ("Salesforce Users", "Salesforce CRM licence holders", "OKTA_GROUP", "dept:Sales"),
    ("Salesforce Admins", "Salesforce administrators", "OKTA_GROUP", ["Grace Kim"]),
    (
        "Sales Leadership",
        "Sales managers and above",
        "OKTA_GROUP",
        ["Grace Kim", "Henry Adams", "Samuel Green"],
    ),
    (
        "Finance Approvers",
        "May approve expenses above 10,000 USD",
        "OKTA_GROUP",
        ["Charlotte Evans", "Arjun Mehta"],
    ),
    ("Payroll", "Access to payroll data", "OKTA_GROUP", ["Arjun Mehta", "Beatriz Santos"]),
    (
        "Marketing Analytics",
        "Access to the marketing analytics workspace",
        "OKTA_GROUP",
        ["Olivia Bennett", "Leah Cohen", "Mateo Silva"],
    ),
    (
        "Design Tools",
        "Licences for the design suite",
        "OKTA_GROUP",
        ["Ryan Murphy", "Hana Sato", "Camille Laurent"],
    ),
    ("VPN Users", "Remote access VPN", "OKTA_GROUP", "all-active"),
    (
        "Support Escalations",
        "Second-level support queue",
        "OKTA_GROUP",
        ["Elena Popescu", "Omar Farouk", "Kwame Asante"],
    ),
    (
        "Recruiting",
        "Access to the applicant tracking system",
        "OKTA_GROUP",
        ["Julia Weber", "Kofi Mensah", "Ivan Kuznetsov"],
    ),
    ("Managers", "Everyone who manages people", "OKTA_GROUP", "managers"),
    ("AD Domain Users", "Imported from Active Directory", "APP_GROUP", "all-active"),
    (
        "AD Helpdesk Operators",
        "Imported from Active Directory",
        "APP_GROUP",
        ["Jonas Berg", "Patrick Doyle"],
    ),
    (
        "AD Server Admins",
        "Imported from Active Directory",
        "APP_GROUP",
        ["Patrick Doyle", "Chen Wei"],
    ),
    ("Workday All Employees", "Imported from Workday", "APP_GROUP", "all-active"),
]

# (label, integration name, sign-on mode, assigned groups, directly assigned users)
APPS = [
    ("Access Portal", "oidc_client", "OPENID_CONNECT", ["Everyone"], []),
    ("Slack", "slack", "SAML_2_0", ["Everyone"], []),
    (
        "GitHub Enterprise Cloud",
        "githubcloud",
        "SAML_2_0",
        ["GitHub Developers", "GitHub Admins"],
        [],
    ),
    (
        "AWS IAM Identity Center",
        "amazon_aws_sso",
        "SAML_2_0",
        ["AWS Production ReadOnly", "AWS Production Admin", "AWS Staging Developers"],
        [],
    ),
    (
        "Salesforce",
        "salesforce",
        "SAML_2_0",
        ["Salesforce Users", "Salesforce Admins"],
        ["Omar Farouk"],
    ),
    ("Jira Cloud", "oidc_client", "OPENID_CONNECT", ["Engineering", "Support"], ["Olivia Bennett"]),
    (
        "Grafana",
        "oidc_client",
        "OPENID_CONNECT",
        ["On-Call Engineers"],
        ["Jordan Blake", "Thomas Wright"],
    ),
    ("Workday", "workday", "SAML_2_0", ["Workday All Employees"], []),
    ("Company Handbook", "bookmark", "BOOKMARK", ["Everyone"], []),
    (
        "Expense Reports",
        "bookmark",
        "BOOKMARK",
        [],
        ["Charlotte Evans", "Arjun Mehta", "Tomas Horvat"],
    ),
    ("Figma", "figma", "SAML_2_0", ["Design Tools"], []),
]

PORTAL_CLIENT_ID = "0oaportaldemo0000001"
API_TOKEN = "00demoEmulatorApiToken0000000000000000000"
PASSWORD = "Demo-Passw0rd!"


def login_of(full_name):
    first, last = full_name.split(" ", 1)
    local = f"{first}.{last}".lower().replace("'", "")
    return f"{local}@{DOMAIN}"


def build():
    managers = {manager for *_, manager, _status in PEOPLE if manager}
    users = []
    for first, last, dept, title, manager, status in PEOPLE:
        login = login_of(f"{first} {last}")
        profile = {
            "firstName": first,
            "lastName": last,
            "displayName": f"{first} {last}",
            "login": login,
            "email": login,
            "department": dept,
            "title": title,
            "employeeNumber": str(1000 + len(users)),
            "organization": "Example Corp",
            "mobilePhone": None,
            "secondEmail": None,
        }
        if manager:
            profile["managerId"] = stable_id("00u", login_of(manager))
            profile["manager"] = manager
        users.append({"id": stable_id("00u", login), "status": status, "profile": profile})

    active = [user["profile"]["login"] for user in users if user["status"] == "ACTIVE"]

    def members(selector):
        if selector == "all-active":
            return active
        if selector == "managers":
            return [login_of(name) for name in sorted(managers)]
        if isinstance(selector, str) and selector.startswith("dept:"):
            dept = selector.split(":", 1)[1]
            return [
                u["profile"]["login"]
                for u in users
                if u["profile"]["department"] == dept and u["status"] != "DEPROVISIONED"
            ]
        return [login_of(name) for name in selector]

    groups = [
        {
            "id": stable_id("00g", "Everyone"),
            "type": "BUILT_IN",
            "name": "Everyone",
            "description": "All users in your organization",
        }
    ]
    for dept in DEPARTMENT_GROUPS:
        groups.append(
            {
                "id": stable_id("00g", dept),
                "type": "OKTA_GROUP",
                "name": dept,
                "description": f"Members of the {dept} department",
                "members": members(f"dept:{dept}"),
            }
        )
    for name, description, group_type, selector in EXTRA_GROUPS:
        groups.append(
            {
                "id": stable_id("00g", name),
                "type": group_type,
                "name": name,
                "description": description,
                "members": members(selector),
            }
        )

    apps = []
    for label, name, mode, app_groups, app_users in APPS:
        app_id = PORTAL_CLIENT_ID if label == "Access Portal" else stable_id("0oa", label)
        app = {
            "id": app_id,
            "name": name,
            "label": label,
            "signOnMode": mode,
            "groups": app_groups,
            "users": [login_of(user) for user in app_users],
        }
        if mode == "BOOKMARK":
            app["settings"] = {
                "app": {
                    "url": f"https://intranet.{DOMAIN}/{label.lower().replace(' ', '-')}",
                    "requestIntegration": False,
                }
            }
        apps.append(app)
    apps.append(
        {
            "id": stable_id("0oa", "Legacy Timesheets"),
            "name": "bookmark",
            "label": "Legacy Timesheets",
            "signOnMode": "BOOKMARK",
            "status": "INACTIVE",
            "groups": [],
            "users": [],
            "settings": {
                "app": {"url": f"https://timesheets.{DOMAIN}/", "requestIntegration": False}
            },
        }
    )

    return {
        "org": {"name": "Example Corp (demo)", "default_password": PASSWORD, "created": SEED_TIME},
        "api_tokens": [
            {"name": "Access portal", "token": API_TOKEN, "user": login_of("Portal Service")}
        ],
        "users": users,
        "groups": groups,
        "apps": apps,
        "oidc_clients": [
            {
                "client_id": PORTAL_CLIENT_ID,
                "client_secret": "demo-portal-client-secret-change-me",
                "client_name": "Access Portal",
                "app_id": PORTAL_CLIENT_ID,
                "redirect_uris": [
                    "http://127.0.0.1:8000/oidc/callback/",
                    "http://localhost:8000/oidc/callback/",
                ],
                "post_logout_redirect_uris": ["http://127.0.0.1:8000/", "http://localhost:8000/"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }
        ],
        "event_hooks": [],
    }


HEADER = """\
# The shipped demo org of the Okta emulator. Generated by okta_emulator/orgs/generate_demo.py:
# edit that script and rerun it instead of editing this file. Every user's password is
# "Demo-Passw0rd!" (org.default_password).
"""


def main(argv=None):
    target = Path(__file__).with_name("demo.yaml")
    text = HEADER + yaml.safe_dump(build(), sort_keys=False, allow_unicode=True, width=110)
    target.write_text(text)
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
