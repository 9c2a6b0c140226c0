from django.urls import path

from patron.tickets import views

urlpatterns = [
    path("", views.ticket_list, name="ticket_list"),
    path("<int:number>/", views.ticket_detail, name="ticket_detail"),
    path("<int:number>/reply", views.ticket_reply, name="ticket_reply"),
]
