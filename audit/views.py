"""The audit page: every signed-in user can read the log (it holds no secrets)."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit import selectors
from audit.forms import AuditFilterForm

PAGE_SIZE = 50


@require_GET
def event_list(request):
    form = AuditFilterForm(request.GET or None)
    filters = form.filters() if form.is_valid() else {}
    events = selectors.audit_events(**filters) if (form.is_valid() or not request.GET) else None
    page = (
        Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
        if events is not None
        else None
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/event_list.html",
        {"form": form, "page": page, "query": query.urlencode()},
        status=400 if form.errors else 200,
    )
