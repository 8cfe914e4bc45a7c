"""Okta's error responses: the exception the API raises and the JSON body it turns into."""

from .clock import random_alphanumeric

# Okta's errorSummary text for each errorCode the emulator returns, with the HTTP status.
ERROR_CATALOGUE = {
    "E0000001": (400, "Api validation failed: {detail}"),
    "E0000003": (400, "The request body was not well-formed."),
    "E0000004": (401, "Authentication failed"),
    "E0000005": (400, "Invalid session"),
    "E0000006": (403, "You do not have permission to perform the requested action"),
    "E0000007": (404, "Not found: Resource not found: {detail}"),
    "E0000009": (500, "Internal Server Error"),
    "E0000010": (503, "Service is temporarily unavailable"),
    "E0000011": (401, "Invalid token provided"),
    "E0000022": (405, "The endpoint does not support the provided HTTP method"),
    "E0000031": (400, "Invalid search criteria."),
    "E0000033": (400, "Invalid search criteria: Cannot use search together with filter or q."),
    "E0000038": (403, "This operation is not allowed in the user's current status."),
    "E0000047": (429, "API call exceeded rate limit due to too many requests."),
    "E0000060": (501, "Unsupported operation."),
    "E0000062": (409, "The specified user is already assigned to the application."),
    "E0000117": (403, "The user is not active. Activate the user before assigning the app."),
}


def new_error_id():
    """Return an errorId in Okta's shape: "oae" followed by 22 letters and digits."""
    return "oae" + random_alphanumeric(22)


class OktaError(Exception):
    """An API error that the app turns into Okta's JSON error body and HTTP status."""

    def __init__(self, code, detail="", causes=(), status=None, summary=None):
        default_status, template = ERROR_CATALOGUE[code]
        self.code = code
        self.status = status or default_status
        self.summary = summary or template.format(detail=detail)
        self.causes = list(causes)
        super().__init__(f"{code}: {self.summary}")

    def body(self):
        """Return the error as Okta's JSON error object."""
        return {
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": new_error_id(),
            "errorCauses": [{"errorSummary": cause} for cause in self.causes],
        }


def not_found(resource_id, kind):
    """Return Okta's 404 for a missing resource, e.g. "Not found: Resource not found: 00u… (User)"."""
    return OktaError("E0000007", f"{resource_id} ({kind})")


def validation_failed(field, message):
    """Return Okta's 400 E0000001 with one cause naming the invalid field."""
    return OktaError("E0000001", field, causes=[f"{field}: {message}"])
