"""Contact and organization pages for agents. Thin: parse, check, call a service, render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from patron.core import clock
from patron.core.errors import InvalidInput, NotAllowed
from patron.people import permissions, services
from patron.people.forms import (
    AttachForm,
    ContactForm,
    MergeForm,
    NewContactForm,
    NewOrganizationForm,
    OrganizationForm,
    add_service_error,
)
from patron.people.models import Contact, Organization, Relationship, Segment
from patron.tickets import merging
from patron.workspace import people_queries as queries

PAGE_SIZE = 50
OPEN_TICKETS_SHOWN = 100
INVALID_FORM = 400


def _agent(request: HttpRequest) -> User:
    """The agent making the request; anyone else gets the 403 page."""
    if not permissions.is_agent(request.user):
        raise NotAllowed("Only agents can see contacts and organizations.")
    assert isinstance(request.user, User)
    return request.user


def _may(check: Callable[[Any], None], user: User) -> bool:
    try:
        check(user)
    except NotAllowed:
        return False
    return True


# Contacts


@login_required
@require_GET
def contact_list(request: HttpRequest) -> HttpResponse:
    user = _agent(request)
    filters = queries.ContactFilters.from_query(request.GET)
    error = ""
    try:
        contacts = queries.contact_list(filters)
        page = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    except InvalidInput as refused:
        error = str(refused)
        page = Paginator(Contact.objects.none(), PAGE_SIZE).get_page(1)
    return render(
        request,
        "people/contact_list.html",
        {
            "page": page,
            "filters": filters,
            "custom_filter": next(iter(filters.custom.items()), ("", "")),
            "error": error,
            "relationships": Relationship.choices,
            "segments": Segment.objects.all(),
            "tiers": queries.tiers(),
            "may_manage": _may(permissions.check_manage_people, user),
        },
    )


def _contact_page(
    request: HttpRequest, contact: Contact, *, form: ContactForm | None = None, status: int = 200
) -> HttpResponse:
    user = _agent(request)
    limit = queries.clamp_limit(request.GET.get("activity"))
    timeline, more = queries.contact_timeline(contact, limit=limit)
    may_manage = _may(permissions.check_manage_people, user) and contact.merged_into_id is None
    return render(
        request,
        "people/contact_detail.html",
        {
            "contact": contact,
            "local_time": queries.local_time(contact, clock.now()),
            "relationship_source": queries.relationship_source(contact),
            "custom_fields": queries.custom_field_rows("contact", contact.custom_fields),
            "tickets": queries.contact_tickets(contact),
            "timeline": timeline,
            "more_activity": limit + queries.TIMELINE_LENGTH if more else None,
            "may_manage": may_manage,
            "form": form or (ContactForm(contact=contact) if may_manage else None),
            "attach_form": AttachForm(initial={"organization": contact.organization_id}),
            "merge_form": MergeForm(),
        },
        status=status,
    )


@login_required
@require_GET
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    return _contact_page(request, queries.contact_for_page(contact_id))


@login_required
@require_POST
def contact_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    user = _agent(request)
    permissions.check_manage_people(user)
    contact = queries.contact_for_page(contact_id)
    form = ContactForm(request.POST, contact=contact)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.update_contact(
                contact,
                actor=user,
                now=clock.now(),
                name=data["name"],
                phone=data["phone"],
                language=data["language"],
                time_zone=data["time_zone"],
                relationship_override=data["relationship_override"],
                custom_fields=form.custom_values(),
                new_email=data["new_email"] or "",
            )
        except InvalidInput as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Saved {contact}.")
            return redirect("contact_detail", contact_id=contact.pk)
    return _contact_page(request, contact, form=form, status=INVALID_FORM)


@login_required
@require_http_methods(["GET", "POST"])
def contact_create(request: HttpRequest) -> HttpResponse:
    user = _agent(request)
    permissions.check_manage_people(user)
    form = NewContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            contact = services.create_contact(
                email=data["email"],
                now=clock.now(),
                name=data["name"],
                organization=data["organization"],
                phone=data["phone"],
                language=data["language"],
                time_zone=services.check_time_zone(data["time_zone"]),
                relationship_override=data["relationship_override"],
                custom_fields={k: v for k, v in form.custom_values().items() if v is not None},
            )
        except InvalidInput as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Created {contact}.")
            return redirect("contact_detail", contact_id=contact.pk)
    status = INVALID_FORM if request.method == "POST" else 200
    return render(request, "people/contact_form.html", {"form": form}, status=status)


@login_required
@require_POST
def contact_attach(request: HttpRequest, contact_id: int) -> HttpResponse:
    user = _agent(request)
    permissions.check_manage_people(user)
    contact = queries.contact_for_page(contact_id)
    form = AttachForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an organization from the list.")
    else:
        organization = form.cleaned_data["organization"]
        services.attach_to_organization(contact, organization, actor=user, now=clock.now())
        messages.success(request, f"{contact} now belongs to {organization or 'no organization'}.")
    return redirect("contact_detail", contact_id=contact.pk)


@login_required
@require_http_methods(["GET", "POST"])
def contact_merge(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Pick the contact to keep by address, see what will move, then confirm."""
    user = _agent(request)
    permissions.check_manage_people(user)
    source = queries.contact_for_page(contact_id)
    form = MergeForm(request.POST or None)
    target: Contact | None = None
    if request.method == "POST" and form.is_valid():
        found = queries.contact_by_email(form.cleaned_data["target_email"])
        target = queries.contact_for_page(found.pk) if found else None
        if target is None:
            form.add_error("target_email", "No contact has that address.")
        elif request.POST.get("confirm") == "yes":
            try:
                merging.merge_contacts(source, target, actor=user, now=clock.now())
            except InvalidInput as error:
                form.add_error(None, str(error))
                target = None
            else:
                messages.success(request, f"Merged {source} into {target}.")
                return redirect("contact_detail", contact_id=target.pk)
    status = INVALID_FORM if request.method == "POST" and form.errors else 200
    return render(
        request,
        "people/contact_merge.html",
        {
            "contact": source,
            "form": form,
            "target": target,
            "ticket_count": source.tickets.count(),
        },
        status=status,
    )


# Organizations


@login_required
@require_GET
def organization_list(request: HttpRequest) -> HttpResponse:
    user = _agent(request)
    search = request.GET.get("q", "").strip()
    relationship = request.GET.get("relationship", "")
    tier = request.GET.get("tier", "").strip()
    organizations = queries.organization_list(search=search, relationship=relationship, tier=tier)
    page = Paginator(organizations, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "people/organization_list.html",
        {
            "page": page,
            "search": search,
            "relationship": relationship,
            "tier": tier,
            "relationships": Relationship.choices,
            "tiers": queries.tiers(),
            "may_manage": _may(permissions.check_manage_people, user),
        },
    )


def _organization_page(
    request: HttpRequest,
    organization: Organization,
    *,
    form: OrganizationForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _agent(request)
    limit = queries.clamp_limit(request.GET.get("activity"))
    timeline, more = queries.organization_timeline(organization, limit=limit)
    tickets = queries.organization_tickets(organization)
    may_manage = _may(permissions.check_manage_people, user)
    return render(
        request,
        "people/organization_detail.html",
        {
            "organization": organization,
            "custom_fields": queries.custom_field_rows("organization", organization.custom_fields),
            "open_tickets": tickets.filter(status__in=queries.OPEN_STATUSES)[:OPEN_TICKETS_SHOWN],
            "page": Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page")),
            "timeline": timeline,
            "more_activity": limit + queries.TIMELINE_LENGTH if more else None,
            "may_manage": may_manage,
            "may_change_relationship": _may(permissions.check_change_relationship, user),
            "relationships": Relationship.choices,
            "form": form or (OrganizationForm(organization=organization) if may_manage else None),
        },
        status=status,
    )


@login_required
@require_GET
def organization_detail(request: HttpRequest, organization_id: int) -> HttpResponse:
    return _organization_page(request, queries.organization_for_page(organization_id))


@login_required
@require_POST
def organization_edit(request: HttpRequest, organization_id: int) -> HttpResponse:
    user = _agent(request)
    permissions.check_manage_people(user)
    organization = queries.organization_for_page(organization_id)
    form = OrganizationForm(request.POST, organization=organization)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.update_organization(
                organization,
                actor=user,
                now=clock.now(),
                name=data["name"],
                tier=data["tier"],
                account_manager=data["account_manager"],
                clear_account_manager=data["account_manager"] is None,
                domains=form.domain_list(),
                custom_fields=form.custom_values(),
            )
        except InvalidInput as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Saved {organization}.")
            return redirect("organization_detail", organization_id=organization.pk)
    return _organization_page(request, organization, form=form, status=INVALID_FORM)


@login_required
@require_POST
def organization_relationship(request: HttpRequest, organization_id: int) -> HttpResponse:
    user = _agent(request)
    permissions.check_change_relationship(user)
    organization = queries.organization_for_page(organization_id)
    try:
        services.set_relationship(
            organization, request.POST.get("relationship", ""), actor=user, now=clock.now()
        )
    except InvalidInput as error:
        messages.error(request, str(error))
    else:
        label = organization.get_relationship_display()
        messages.success(request, f"{organization} is now a {label.lower()}.")
    return redirect("organization_detail", organization_id=organization.pk)


@login_required
@require_http_methods(["GET", "POST"])
def organization_create(request: HttpRequest) -> HttpResponse:
    user = _agent(request)
    permissions.check_manage_people(user)
    form = NewOrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["relationship"] == Relationship.CLIENT:
                permissions.check_change_relationship(user)
            organization = services.create_organization(
                name=data["name"],
                now=clock.now(),
                relationship=data["relationship"],
                tier=data["tier"].strip(),
                domains=services.clean_domains(form.domain_list()),
                account_manager=data["account_manager"],
                custom_fields={k: v for k, v in form.custom_values().items() if v is not None},
            )
        except InvalidInput as error:
            add_service_error(form, error)
        except NotAllowed as refused:
            form.add_error("relationship", str(refused))
        else:
            messages.success(request, f"Created {organization}.")
            return redirect("organization_detail", organization_id=organization.pk)
    status = INVALID_FORM if request.method == "POST" else 200
    return render(request, "people/organization_form.html", {"form": form}, status=status)
