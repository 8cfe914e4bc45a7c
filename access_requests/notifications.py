"""E-mails to the people an access request concerns, sent after the change commits.

Approvers hear about a step when it starts waiting for them. The requester hears about the
decision, about the grant being applied or failing, and about the access ending (revoked,
expired or given up) or its removal failing. The portal admins hear about every grant or
removal that Okta rejected for good, one e-mail per failure, with a link to retry it.
"""

import logging
import smtplib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from access_requests.models import AccessRequest, ApprovalStep, Grant
from accounts.models import OktaStatus

logger = logging.getLogger(__name__)


def step_waiting(step_id: int, only_to: list[int] | None = None) -> None:
    """E-mail the step's approvers that it waits for their decision.

    With `only_to`, only the approvers with those user ids get it. A waiting step that gets new
    approvers uses it, so that the approvers it kept are not sent the same request twice.
    """
    step = ApprovalStep.objects.select_related(
        "request__requester", "request__resource", "request__extends_grant"
    ).get(pk=step_id)
    request_obj = step.request
    approvers = step.approvers.all()
    if only_to is not None:
        approvers = approvers.filter(pk__in=only_to)
    verb = "asks to extend" if request_obj.extends_grant_id else "requests"
    for approver in approvers:
        _send(
            approver,
            f"Approval needed: {request_obj.requester} {verb} {request_obj.resource.name}",
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
    """E-mail the holder and every portal admin that Okta rejected the grant for good."""
    grant = Grant.objects.select_related("user", "resource").get(pk=grant_id)
    _send(
        grant.user,
        f"Your access to {grant.resource.name} could not be applied",
        "access_requests/email/grant_failed.txt",
        {"grant": grant},
    )
    if grant.request_id is not None:
        retry_path = reverse("access_requests:request_detail", args=[grant.request_id])
    else:
        retry_path = reverse("landing") + "#failed-okta-changes"
    for admin in portal_admins():
        _send(
            admin,
            f"Failed in Okta: {grant.resource.name} for {grant.user}",
            "access_requests/email/admin_grant_failed.txt",
            {"grant": grant, "retry_url": _portal_url() + retry_path},
        )


def grant_ended(grant_id: int) -> None:
    """E-mail the holder that their access ended: revoked (with the reason), expired or given up.

    Holders who left the company (not ACTIVE in Okta) are not sent anything.
    """
    grant = Grant.objects.select_related("user", "resource").get(pk=grant_id)
    if not _still_employed(grant.user):
        return
    if grant.status == Grant.Status.EXPIRED:
        subject = f"Your access to {grant.resource.name} has expired"
    else:
        subject = f"Your access to {grant.resource.name} was removed"
    _send(
        grant.user,
        subject,
        "access_requests/email/grant_ended.txt",
        {"grant": grant},
    )


def removal_failed(grant_id: int) -> None:
    """E-mail every portal admin, and the holder, that Okta rejected a removal for good."""
    grant = Grant.objects.select_related("user", "resource").get(pk=grant_id)
    retry_url = _portal_url() + reverse("landing") + "#failed-okta-changes"
    for admin in portal_admins():
        _send(
            admin,
            f"Removal failed in Okta: {grant.resource.name} for {grant.user}",
            "access_requests/email/admin_removal_failed.txt",
            {"grant": grant, "retry_url": retry_url},
        )
    if _still_employed(grant.user):
        _send(
            grant.user,
            f"Removing your access to {grant.resource.name} failed",
            "access_requests/email/removal_failed.txt",
            {"grant": grant},
        )


def portal_admins():
    """Active portal admins, by login."""
    return (
        get_user_model()
        .objects.filter(is_admin=True, is_active=True, okta_status=OktaStatus.ACTIVE)
        .order_by("login")
    )


def _still_employed(user) -> bool:
    return user.is_active and user.okta_status == OktaStatus.ACTIVE


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
