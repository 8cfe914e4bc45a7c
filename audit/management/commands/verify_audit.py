from django.core.management.base import BaseCommand, CommandError

from audit.verification import verify_chain


class Command(BaseCommand):
    help = (
        "Check the audit trail's hash chain from the first event to the newest, store the "
        "result for the admin pages, and exit with status 1 naming the first event that does "
        "not match."
    )

    def handle(self, *args, **options):
        result = verify_chain()
        if not result.ok:
            raise CommandError(f"Audit chain verification failed. {result.message}")
        self.stdout.write(self.style.SUCCESS(result.message))
