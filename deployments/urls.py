from django.urls import path

from deployments import lifecycle_views, timed_views, views

app_name = "deployments"
urlpatterns = [
    path("new/", views.service_new_choose, name="new"),
    path("new/lambda/", views.service_new, {"kind": "lambda"}, name="lambda_create"),
    path("new/<slug:kind>/", views.service_new, name="service_new"),
    path("services/<slug:slug>/", views.service_deployments, name="service_deployments"),
    path("services/<slug:slug>/delete/", lifecycle_views.service_remove, name="service_remove"),
    path(
        "services/<slug:slug>/<slug:environment>/deploy/",
        lifecycle_views.instance_deploy,
        name="deploy",
    ),
    path("services/<slug:slug>/<slug:environment>/update/", views.instance_update, name="update"),
    path("services/<slug:slug>/<slug:environment>/scale/", views.instance_scale, name="scale"),
    path("services/<slug:slug>/<slug:environment>/delete/", views.instance_delete, name="delete"),
    path(
        "services/<slug:slug>/<slug:environment>/reapply/",
        views.instance_reapply,
        name="reapply",
    ),
    path("<int:pk>/", views.deployment_detail, name="detail"),
    path("<int:pk>/events/", views.deployment_events, name="events"),
    path("<int:pk>/confirm/", views.deployment_confirm, name="confirm"),
    path("<int:pk>/approve/", views.deployment_approve, name="approve"),
    path("<int:pk>/reject/", views.deployment_reject, name="reject"),
    path("<int:pk>/cancel/", views.deployment_cancel, name="cancel"),
    path("<int:pk>/revert/", views.deployment_revert, name="revert"),
    path(
        "<int:pk>/timed-revert/extend/",
        timed_views.timed_revert_extend,
        name="timed_revert_extend",
    ),
    path(
        "<int:pk>/timed-revert/cancel/",
        timed_views.timed_revert_cancel,
        name="timed_revert_cancel",
    ),
    path("<int:pk>/retry/", lifecycle_views.deployment_retry, name="retry"),
]
