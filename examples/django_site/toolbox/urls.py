"""URLs of the toolbox app."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("tools/", views.tools, name="tools"),
    path("call/<str:server>/<str:tool>/", views.call, name="call"),
    path("health/", views.health, name="health"),
]
