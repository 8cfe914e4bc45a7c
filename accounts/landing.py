"""The data of the landing page's three sections."""

import importlib

EMPTY_SUMMARY = {"my_access": [], "open_requests": [], "waiting_for_me": []}


def landing_sections(user) -> dict:
    """Return my access, my open requests and the approvals waiting for `user`.

    access_requests provides the lists through `access_requests.selectors.landing_summary`;
    until that function exists the sections render empty. It is looked up on every call,
    so the page needs no change when it arrives.
    """
    try:
        selectors = importlib.import_module("access_requests.selectors")
    except ModuleNotFoundError as error:
        if error.name != "access_requests.selectors":
            raise
        return dict(EMPTY_SUMMARY)
    landing_summary = getattr(selectors, "landing_summary", None)
    if landing_summary is None:
        return dict(EMPTY_SUMMARY)
    return {**EMPTY_SUMMARY, **landing_summary(user)}
