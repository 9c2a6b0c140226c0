from django.contrib import admin

from patron.notifications.models import Notification

admin.site.register(Notification)
