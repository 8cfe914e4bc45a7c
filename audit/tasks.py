import logging

from celery import shared_task

from audit.verification import verify_chain

logger = logging.getLogger(__name__)


@shared_task(name="audit.verify_chain")
def verify_chain_task() -> bool:
    """Verify the audit chain, as `manage.py verify_audit` does; return whether it is intact."""
    result = verify_chain()
    if result.ok:
        logger.info("Audit chain verified: %s", result.message)
    else:
        logger.error("Audit chain verification failed: %s", result.message)
    return result.ok
