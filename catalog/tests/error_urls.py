"""The portal's URLs plus one view that fails, to see the 500 page a user would get."""

from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns


def boom(request):
    raise RuntimeError("secret internals: password=hunter2")


urlpatterns = [*portal_urlpatterns, path("boom/", boom)]
