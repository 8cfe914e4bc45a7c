"""E-mails to the people an access request concerns, sent after the change commits.

Approvers hear about a step when it starts waiting for them; the requester hears about the
decision, and about the grant being applied or failing. Nobody else is sent anything.
"""

import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from access_requests.models import AccessRequest, ApprovalStep, Grant

logger = logging.getLogger(__name__)


def step_waiting(step_id: int, only_to: list[int] | None = None) -> None:
    """E-mail the step's approvers that it waits for their decision.

    With `only_to`, only the approvers with those user ids get it. A waiting step that gets new
    approvers uses it, so that the approvers it kept are not sent the same request twice.
    """
    step = ApprovalStep.objects.select_related("request__requester", "request__resource").get(
        pk=step_id
    )
    request_obj = step.request
    approvers = step.approvers.all()
    if only_to is not None:
        approvers = approvers.filter(pk__in=only_to)
    for approver in approvers:
        _send(
            approver,
            f"Approval needed: {request_obj.requester} requests {request_obj.resource.name}",
            "access_requests/email/step_waiting.txt",
            {"approver": approver, "step": step, "access_request": request_obj},
        )


def request_decided(request_id: int) -> None:
    request_obj = AccessRequest.objects.select_related("requester", "resource").get(pk=request_id)
    verdict = request_obj.get_status_display().lower()
    _send(
        request_obj.requester,
        f"Your request for {request_obj.resource.name} was {verdict}",
        "access_requests/email/request_decided.txt",
        {
            "access_request": request_obj,
            "approved": request_obj.status == AccessRequest.Status.APPROVED,
        },
    )


def grant_applied(grant_id: int) -> None:
    grant = Grant.objects.select_related("user", "resource").get(pk=grant_id)
    _send(
        grant.user,
        f"Your access to {grant.resource.name} is ready",
        "access_requests/email/grant_applied.txt",
        {"grant": grant},
    )


def grant_failed(grant_id: int) -> None:
    grant = Grant.objects.select_related("user", "resource").get(pk=grant_id)
    _send(
        grant.user,
        f"Your access to {grant.resource.name} could not be applied",
        "access_requests/email/grant_failed.txt",
        {"grant": grant},
    )


def grant_ending(grant_id: int) -> None:
    grant = Grant.objects.select_related("user", "resource").get(pk=grant_id)
    _send(
        grant.user,
        f"Your access to {grant.resource.name} ends on {grant.ends_at:%Y-%m-%d}",
        "access_requests/email/grant_ending.txt",
        {"grant": grant},
    )


def _send(recipient, subject: str, template: str, context: dict) -> None:
    if not recipient.email:
        logger.warning("User %s has no e-mail address; not sent: %s", recipient.pk, subject)
        return
    body = render_to_string(
        template, {**context, "recipient": recipient, "portal_url": _portal_url()}
    )
    try:
        send_mail(subject, body, None, [recipient.email])
    except (smtplib.SMTPException, OSError) as error:
        # The state change is committed already; a lost e-mail must not undo or hide it.
        logger.error("Sending e-mail %r to user %s failed: %s", subject, recipient.pk, error)


def _portal_url() -> str:
    return settings.PORTAL_URL
