"""URLs of the example site."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("", include("toolbox.urls"))]
