"""Settings pages for webhooks (admins only): the list, one webhook's settings with its secret
and its delivery log, re-sending a delivery. Parse, check, do, render; the rules live in
`patron.webhooks.services`."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from patron.admin_ui.pages import INVALID_FORM, admin_of, refuse
from patron.core import clock
from patron.core.errors import InvalidInput
from patron.tickets.models import EventKind
from patron.webhooks import services
from patron.webhooks.models import Webhook, WebhookDelivery

LOG_LENGTH = 50


class WebhookForm(forms.Form):
    name = forms.CharField(max_length=120)
    url = forms.CharField(max_length=2000, label="URL", help_text="Where Patron POSTs the JSON.")
    kinds = forms.MultipleChoiceField(
        choices=EventKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Events",
        help_text="None ticked: every event.",
    )
    active = forms.BooleanField(required=False, initial=True, label="Active")


@login_required
@require_GET
def webhook_list(request: HttpRequest) -> HttpResponse:
    admin_of(request)
    hooks = list(Webhook.objects.all())
    return render(request, "admin_ui/webhook_list.html", {"hooks": hooks, "tab": "webhooks"})


@login_required
@require_http_methods(["GET", "POST"])
def webhook_edit(request: HttpRequest, webhook_id: int | None = None) -> HttpResponse:
    admin = admin_of(request)
    hook = get_object_or_404(Webhook, pk=webhook_id) if webhook_id is not None else None
    initial = (
        {"name": hook.name, "url": hook.url, "kinds": hook.kinds, "active": hook.active}
        if hook is not None
        else {"active": True}
    )
    form = WebhookForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = services.save_webhook(hook, form.cleaned_data, actor=admin, now=clock.now())
            except InvalidInput as refused:
                refuse(form, refused)
            else:
                messages.success(request, f"Saved the webhook {saved.name}.")
                return redirect("settings_webhook_edit", saved.pk)
        status = INVALID_FORM
    deliveries = (
        list(
            WebhookDelivery.objects.filter(webhook=hook).select_related("event__ticket")[
                :LOG_LENGTH
            ]
        )
        if hook is not None
        else []
    )
    return render(
        request,
        "admin_ui/webhook_form.html",
        {"form": form, "hook": hook, "deliveries": deliveries, "tab": "webhooks"},
        status=status,
    )


@login_required
@require_POST
def webhook_rotate(request: HttpRequest, webhook_id: int) -> HttpResponse:
    admin = admin_of(request)
    hook = get_object_or_404(Webhook, pk=webhook_id)
    services.rotate_secret(hook, actor=admin)
    messages.success(request, "A new secret: give it to the receiver before the next event.")
    return redirect("settings_webhook_edit", hook.pk)


@login_required
@require_POST
def webhook_delete(request: HttpRequest, webhook_id: int) -> HttpResponse:
    admin = admin_of(request)
    hook = get_object_or_404(Webhook, pk=webhook_id)
    services.delete_webhook(hook, actor=admin)
    messages.success(request, f"Deleted the webhook {hook.name} and its log.")
    return redirect("settings_webhooks")


@login_required
@require_POST
def webhook_resend(request: HttpRequest, delivery_id: int) -> HttpResponse:
    admin = admin_of(request)
    delivery = get_object_or_404(WebhookDelivery, pk=delivery_id)
    services.resend(delivery, actor=admin, now=clock.now())
    messages.success(request, f"Delivery {delivery.pk} goes out again now.")
    return redirect("settings_webhook_edit", delivery.webhook_id)
