"""Log search across services: the form, starting a search, and its results page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from monitoring import log_search
from monitoring.forms import LogSearchForm
from monitoring.models import LogSearch


@login_required
@require_http_methods(["GET", "POST"])
def search(request):
    """GET: the form and your recent searches. POST: start a search, then follow it."""
    form = LogSearchForm(request.POST or None, initial=request.GET or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        scope = log_search.search_scope(
            environment=data["environment"],
            team=data["team"],
            system=data["system"],
            services=list(data["services"]),
            with_dependencies=data["with_dependencies"],
        )
        try:
            found = log_search.log_search_start(
                user=request.user, scope=scope, text=data["text"], range_key=data["range"]
            )
        except log_search.SearchRefused as exc:
            error = str(exc)
        else:
            return redirect("monitoring:log_search_detail", pk=found.pk)
    recent = LogSearch.objects.filter(user=request.user).select_related("environment")[:10]
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "monitoring/log_search.html",
        {"form": form, "error": error, "recent": recent},
        status=status,
    )


@login_required
@require_GET
def search_detail(request, pk):
    """A search's results so far; htmx polls the results fragment while AWS is scanning."""
    found = get_object_or_404(LogSearch.objects.select_related("environment", "user"), pk=pk)
    if found.user_id != request.user.pk and not request.user.is_staff:
        raise Http404("No such search.")  # searches are their author's own reading
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        page = 1
    results = log_search.log_search_results(search=found, page=page)
    template = "monitoring/log_search_detail.html"
    if request.htmx:
        template += "#results"
    return render(request, template, {"results": results, "search": results.search})
