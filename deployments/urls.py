from django.urls import path

from deployments import views

app_name = "deployments"
urlpatterns = [
    path("new/lambda/", views.lambda_create, name="lambda_create"),
    path("<int:pk>/", views.deployment_detail, name="detail"),
]
