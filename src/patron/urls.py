from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from patron.core import views as core_views
from patron.workspace import stream

handler403 = "patron.core.views.forbidden"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("health", core_views.health, name="health"),
    path("live/stream", stream.stream, name="live_stream"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tickets/", include("patron.workspace.urls")),
    path("search/", include("patron.search.urls")),
    path("people/", include("patron.workspace.people_urls")),
    path("support/", include("patron.portal.urls")),
    path("settings/mail/", include("patron.mail.urls")),
    path("settings/", include("patron.admin_ui.urls")),
    path("notifications/", include("patron.notifications.urls")),
    path("admin/", admin.site.urls),
]
