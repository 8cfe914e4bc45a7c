from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from portal import health


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """Report that the process serves requests; touches no dependency."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """Report each dependency's status and latency: 200 when all pass, 503 otherwise."""
    results = health.run_all_checks()
    ready = all(result.ok for result in results)
    body = {
        "status": "ok" if ready else "error",
        "checks": {result.name: result.as_dict() for result in results},
    }
    return JsonResponse(body, status=200 if ready else 503)
