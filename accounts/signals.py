"""Keep the UserSession records in step with Django's sign-in and sign-out."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from accounts import services


@receiver(user_logged_in, dispatch_uid="accounts.remember_session")
def remember_session(sender, request, user, **kwargs) -> None:
    # login() has already rotated the key, so this is the key the browser will send.
    if request is not None and request.session.session_key:
        services.remember_session(user, request.session.session_key)


@receiver(user_logged_out, dispatch_uid="accounts.forget_session")
def forget_session(sender, request, user, **kwargs) -> None:
    if request is not None:
        services.forget_session(request.session.session_key)
