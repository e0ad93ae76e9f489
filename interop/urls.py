from django.urls import path

from interop import views

app_name = "interop"
urlpatterns = [
    path("import/", views.import_page, name="import"),
    path("import/<int:pk>/", views.import_job, name="import_job"),
    path("export.yaml", views.export_yaml, name="export"),
    path("discovery/", views.discovery_page, name="discovery"),
    path("discovery/<slug:environment>/adopt/", views.adopt, name="adopt"),
    path("discovery/<slug:environment>/adopt-app/", views.adopt_app, name="adopt_app"),
]
