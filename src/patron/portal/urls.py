from django.urls import path

from patron.portal import views

urlpatterns = [
    path("new", views.new_request, name="web_form"),
    path("thanks/", views.thanks_received, name="web_form_received"),
    path("thanks/<str:token>", views.thanks, name="web_form_thanks"),
]
