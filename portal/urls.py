from django.contrib import admin
from django.urls import include, path

from api.urls import api_urls
from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("catalog/", include("catalog.urls")),
    path("deployments/", include("deployments.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("audit/", include("audit.urls")),
    path("api/v1/", api_urls),
    path("account/tokens/", include("api.urls_web")),
    path("interop/", include("interop.urls")),
]
