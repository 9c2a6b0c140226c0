from django.urls import path

from patron.search import views

urlpatterns = [
    path("", views.search, name="search"),
]
