from django.urls import path

from monitoring import execution_views, search_views, views

app_name = "monitoring"
urlpatterns = [
    path("services/<slug:slug>/metrics/", views.service_metrics, name="metrics"),
    path("services/<slug:slug>/logs/", views.service_logs, name="logs"),
    path("services/<slug:slug>/logs/tail/", views.service_logs_tail, name="logs_tail"),
    path("instances/<int:pk>/summary/", views.instance_summary, name="summary"),
    path("alarms/<int:pk>/threshold/", views.alarm_threshold, name="alarm_threshold"),
    path("alarms/<int:pk>/history/", views.alarm_history, name="alarm_history"),
    path("services/<slug:slug>/executions/", execution_views.execution_list, name="executions"),
    path(
        "services/<slug:slug>/executions/start/",
        execution_views.execution_start,
        name="execution_start",
    ),
    path(
        "services/<slug:slug>/executions/<str:name>/",
        execution_views.execution_detail,
        name="execution_detail",
    ),
    path("logs/search/", search_views.search, name="log_search"),
    path("logs/search/<int:pk>/", search_views.search_detail, name="log_search_detail"),
]
