"""The one road for changes to tickets (DESIGN invariant 2).

Each function checks permission and state first (raising NotAllowed, IllegalTransition or
InvalidInput with a readable reason), then writes the change and its TicketEvent(s) in one
transaction. Consumers run after commit. `now` is always passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import F

from patron.core.errors import IllegalTransition, InvalidInput
from patron.core.html import sanitize_html
from patron.people import permissions
from patron.people.custom_fields import clean_custom_fields
from patron.people.models import Contact, Team
from patron.tickets import followers
from patron.tickets.attachments import AttachmentUrl, Upload, check_uploads, store_uploads
from patron.tickets.events import (
    Actor,
    Changer,
    SystemActor,
    author_kind,
    check_may_change,
    record,
    record_change,
)
from patron.tickets.models import (
    Channel,
    Counter,
    EventKind,
    Message,
    Priority,
    Status,
    Tag,
    Ticket,
    TicketEvent,
    TicketType,
)

FIRST_TICKET_NUMBER = 1000
MAX_SUBJECT_LENGTH = 300
MAX_TAG_LENGTH = 64


def next_ticket_number() -> int:
    """Take the next number under the counter row's lock (held until the transaction ends):
    one `UPDATE … RETURNING` (SQLite 3.35+ and PostgreSQL both have it)."""
    table = connection.ops.quote_name(Counter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET value = value + 1 WHERE name = %s RETURNING value",
            ["ticket"],
        )
        taken = cursor.fetchone()
    if taken is not None:
        return int(taken[0])
    Counter.objects.get_or_create(name="ticket", defaults={"value": FIRST_TICKET_NUMBER - 1})
    Counter.objects.filter(name="ticket").update(value=F("value") + 1)
    return int(Counter.objects.get(name="ticket").value)


def check_open_for_changes(ticket: Ticket) -> None:
    if ticket.merged_into_id is not None:
        survivor = Ticket.objects.filter(pk=ticket.merged_into_id).values_list("number", flat=True)
        raise IllegalTransition(
            f"Ticket #{ticket.number} was merged into #{survivor.first()}; work there instead."
        )
    if ticket.status == Status.CLOSED:
        raise IllegalTransition(
            f"Ticket #{ticket.number} is closed and cannot change; open a follow-up ticket."
        )


def lock_ticket(ticket: Ticket) -> None:
    """Lock the ticket's row and refresh the fields that decide what may happen to it."""
    current = (
        Ticket.objects.select_for_update()
        .values("status", "merged_into_id", "assignee_id", "team_id")
        .get(pk=ticket.pk)
    )
    for field, value in current.items():
        setattr(ticket, field, value)


def _check_choice(value: str, choices: type[Status | Priority | TicketType], what: str) -> None:
    if value not in choices.values:
        raise InvalidInput(f"{value!r} is not a {what}; use one of {', '.join(choices.values)}.")


def _clean_tags(tags: Iterable[str]) -> list[str]:
    cleaned = sorted({t.strip().lower().replace(" ", "-") for t in tags if t.strip()})
    too_long = [t for t in cleaned if len(t) > MAX_TAG_LENGTH]
    if too_long:
        raise InvalidInput(f"Tags may be at most {MAX_TAG_LENGTH} characters: {too_long[0]}.")
    return cleaned


def _tag_objects(names: list[str]) -> list[Tag]:
    existing = {t.name: t for t in Tag.objects.filter(name__in=names)}
    missing = [Tag(name=n) for n in names if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name: t for t in Tag.objects.filter(name__in=names)}
    return [existing[n] for n in names]


def _add_message(
    ticket: Ticket,
    *,
    author: Actor,
    body: str,
    body_html: str,
    public: bool,
    now: datetime,
    uploads: Sequence[Upload],
    bot: bool = False,
    mentions: Sequence[User] = (),
    attachment_url: AttachmentUrl | None = None,
    automatic: bool = False,
) -> Message:
    """`automatic`: an automatic reply, recorded as its own kind of event and leaving
    `updated_at` alone: it is no one writing."""
    message = Message.objects.create(
        ticket=ticket,
        public=public,
        author_kind=author_kind(author, bot=bot),
        author_contact=author if isinstance(author, Contact) else None,
        author_agent=author if isinstance(author, User) else None,
        body_text=body.replace("\r\n", "\n"),  # browsers send textareas with CRLF
        body_html=sanitize_html(body_html),
        created_at=now,
        automatic=automatic,
    )
    store_uploads(message, uploads, attachment_url=attachment_url)
    touched = {} if automatic else {"updated_at": now}
    Ticket.objects.filter(pk=ticket.pk).update(message_count=F("message_count") + 1, **touched)
    ticket.message_count += 1
    ticket.updated_at = touched.get("updated_at", ticket.updated_at)
    record(
        ticket,
        EventKind.AUTOMATIC_REPLY_RECEIVED if automatic else EventKind.MESSAGE_ADDED,
        actor=author,
        at=now,
        message_id=message.pk,
        public=public,
        attachments=len(uploads),
        **({"mentions": [user.pk for user in mentions]} if mentions else {}),
    )
    return message


def create_ticket(
    *,
    requester: Contact,
    subject: str,
    body: str,
    now: datetime,
    actor: Actor = None,
    body_html: str = "",
    channel: str = Channel.WEB,
    priority: str = Priority.NORMAL,
    type: str = "",
    team: Team | None = None,
    assignee: User | None = None,
    tags: Iterable[str] = (),
    custom_fields: Mapping[str, object] | None = None,
    uploads: Sequence[Upload] = (),
    attachment_url: AttachmentUrl | None = None,
    split_from: Message | None = None,
) -> Ticket:
    """Open a ticket with its first message. `actor` is the agent acting on the requester's
    behalf, or None when the requester wrote in themselves (the message is then theirs).
    `attachment_url` says where inline images among `uploads` will be served from.

    `split_from`, a customer's message on another ticket, becomes the first message instead of a
    new one (`merging.split_message`); the ticket opens Open, its created event says whence."""
    if actor is not None and not isinstance(actor, Contact):
        permissions.check_create_ticket(actor)
    subject = " ".join(subject.split())[:MAX_SUBJECT_LENGTH]
    if not subject:
        raise InvalidInput("A ticket needs a subject.")
    if split_from is None and not body.strip() and not body_html.strip():
        raise InvalidInput("A ticket needs a message.")
    if channel not in Channel.values:
        raise InvalidInput(f"{channel!r} is not a channel; use one of {', '.join(Channel.values)}.")
    _check_choice(priority, Priority, "priority")
    if type:
        _check_choice(type, TicketType, "ticket type")
    if requester.merged_into_id is not None:
        raise InvalidInput(f"{requester} was merged into another contact; use that one.")
    if assignee is not None and not permissions.is_agent(assignee):
        raise InvalidInput(f"{assignee} is not an agent and cannot be assigned tickets.")
    # A customer's own message (one split off included) is never refused for lacking a field
    # only agents can fill in.
    from_agent = actor is not None and not isinstance(actor, Contact) and split_from is None
    # Nothing given and nothing required: nothing to check (and no definitions to read).
    fields = (
        clean_custom_fields("ticket", custom_fields or {}, require_all=from_agent)
        if custom_fields or from_agent
        else {}
    )
    tag_names = _clean_tags(tags)
    check_uploads(uploads)
    author: Actor = actor if actor is not None else requester
    origin = (
        {"split_from": split_from.ticket.number, "message_id": split_from.pk} if split_from else {}
    )
    with transaction.atomic():
        ticket = Ticket.objects.create(
            number=next_ticket_number(),
            subject=subject,
            requester=requester,
            organization_id=requester.organization_id,
            channel=channel,
            status=Status.OPEN if assignee is not None or split_from else Status.NEW,
            priority=priority,
            type=type,
            team=team,
            assignee=assignee,
            custom_fields=fields,
            created_at=now,
            updated_at=now,
            message_count=0 if split_from is None else 1,
        )
        if split_from is not None:
            Message.objects.filter(pk=split_from.pk).update(ticket=ticket)
            split_from.ticket = ticket
        if tag_names:
            ticket.tags.set(_tag_objects(tag_names))
        record(
            ticket,
            EventKind.CREATED,
            actor=author,
            at=now,
            channel=channel,
            subject=subject,
            priority=priority,
            **origin,
        )
        if assignee is not None:
            record(
                ticket, EventKind.ASSIGNED, actor=author, at=now, to=assignee.pk, **{"from": None}
            )
        if split_from is None:
            _add_message(
                ticket,
                author=author,
                body=body,
                body_html=body_html,
                public=True,
                now=now,
                uploads=uploads,
                attachment_url=attachment_url,
            )
    return ticket


def open_ticket_for_address(
    *,
    email: str,
    name: str,
    subject: str,
    body: str,
    actor: User,
    now: datetime,
    channel: str = Channel.PHONE,
    priority: str = Priority.NORMAL,
    team: Team | None = None,
    assignee: User | None = None,
    uploads: Sequence[Upload] = (),
) -> Ticket:
    """An agent opens a ticket for someone who called, or wrote somewhere Patron does not read.
    The requester is found by any of their addresses, ignoring case, or created with this one,
    in the ticket's own transaction: a refused ticket leaves no new contact behind."""
    from patron.people import services as people

    permissions.check_create_ticket(actor)
    check_uploads(uploads)
    with transaction.atomic():
        requester = people.get_or_create_contact(email=email, name=name, now=now)
        return create_ticket(
            requester=requester,
            subject=subject,
            body=body,
            now=now,
            actor=actor,
            channel=channel,
            priority=priority,
            team=team,
            assignee=assignee,
            uploads=uploads,
        )


def reply(
    ticket: Ticket,
    *,
    author: User,
    body: str,
    now: datetime,
    public: bool = True,
    body_html: str = "",
    uploads: Sequence[Upload] = (),
    status: str | None = None,
    mentions: Sequence[User] = (),
) -> Message:
    """Add an agent's public reply or internal note, and optionally set the status with it.

    Agents @mentioned in a note become followers; the event lists them, so the notification
    consumer tells them why ("mentioned")."""
    permissions.check_reply(author, ticket, public=public)
    if not body.strip() and not body_html.strip() and not uploads:
        raise InvalidInput("The reply is empty.")
    if status is not None:
        _check_choice(status, Status, "status")
    if mentions and public:
        raise InvalidInput("Mention agents in an internal note, not in a public reply.")
    for mentioned in mentions:
        if not permissions.may_view_ticket(mentioned, ticket):
            raise InvalidInput(f"@{mentioned.get_username()} cannot see ticket #{ticket.number}.")
    check_uploads(uploads)
    with transaction.atomic():
        lock_ticket(ticket)
        check_open_for_changes(ticket)
        message = _add_message(
            ticket,
            author=author,
            body=body,
            body_html=body_html,
            public=public,
            now=now,
            uploads=uploads,
            mentions=mentions,
        )
        for mentioned in mentions:
            followers.follow(ticket, mentioned, actor=author, now=now)
        new_status = status
        if new_status is None and public and ticket.status == Status.NEW:
            new_status = Status.OPEN
        if new_status is not None and new_status != ticket.status:
            permissions.check_change_ticket(author, ticket)
            _set_status(ticket, new_status, actor=author, now=now)
    return message


def add_note(
    ticket: Ticket,
    *,
    author: User,
    body: str,
    now: datetime,
    uploads: Sequence[Upload] = (),
    mentions: Sequence[User] = (),
) -> Message:
    """An internal note: seen by agents only. Light agents may add these."""
    return reply(
        ticket, author=author, body=body, now=now, public=False, uploads=uploads, mentions=mentions
    )


def add_customer_message(
    ticket: Ticket,
    *,
    contact: Contact,
    body: str,
    now: datetime,
    body_html: str = "",
    uploads: Sequence[Upload] = (),
    attachment_url: AttachmentUrl | None = None,
    automatic: bool = False,
) -> Message:
    """A message from the requester (or a CC'd contact): it reopens a pending or solved ticket.
    `attachment_url` says where inline images among `uploads` will be served from. `automatic`:
    their out-of-office or other automatic reply, kept (not public) but no customer message: it
    reopens nothing and its event is AUTOMATIC_REPLY_RECEIVED, which no consumer acts on."""
    if not body.strip() and not body_html.strip() and not uploads:
        raise InvalidInput("The message is empty.")
    check_uploads(uploads)
    with transaction.atomic():
        lock_ticket(ticket)
        check_open_for_changes(ticket)
        message = _add_message(
            ticket,
            author=contact,
            body=body,
            body_html=body_html,
            public=not automatic,
            now=now,
            uploads=uploads,
            attachment_url=attachment_url,
            automatic=automatic,
        )
        if not automatic and ticket.status in (Status.PENDING, Status.SOLVED, Status.ON_HOLD):
            _set_status(ticket, Status.OPEN, actor=contact, now=now)
    return message


def _set_status(
    ticket: Ticket,
    status: str,
    *,
    actor: Actor | SystemActor,
    now: datetime,
    cause: TicketEvent | None = None,
) -> None:
    if status == Status.NEW:
        raise IllegalTransition(f"Ticket #{ticket.number} cannot go back to New.")
    if status == Status.CLOSED and ticket.status != Status.SOLVED:
        raise IllegalTransition(f"Solve ticket #{ticket.number} before closing it.")
    old = ticket.status
    ticket.status = status
    ticket.updated_at = now
    changed = ["status", "updated_at"]
    if status == Status.SOLVED:
        ticket.solved_at = now
        changed.append("solved_at")
    elif status == Status.CLOSED:
        ticket.closed_at = now
        changed.append("closed_at")
    elif old == Status.SOLVED:
        ticket.solved_at = None
        changed.append("solved_at")
    ticket.save(update_fields=changed)
    record_change(ticket, EventKind.FIELD_CHANGED, actor=actor, at=now, cause=cause,
                   field="status", to=status, **{"from": old})  # fmt: skip


def change_status(
    ticket: Ticket,
    status: str,
    *,
    actor: Changer,
    now: datetime,
    cause: TicketEvent | None = None,
) -> None:
    check_may_change(actor, ticket)
    _check_choice(status, Status, "status")
    with transaction.atomic():
        lock_ticket(ticket)
        check_open_for_changes(ticket)
        if ticket.status != status:
            _set_status(ticket, status, actor=actor, now=now, cause=cause)


def _change_field(
    ticket: Ticket,
    field: str,
    value: object,
    *,
    actor: Changer,
    now: datetime,
    cause: TicketEvent | None = None,
) -> None:
    check_may_change(actor, ticket)
    with transaction.atomic():
        lock_ticket(ticket)
        check_open_for_changes(ticket)
        attname = Ticket._meta.get_field(field).get_attname()  # type: ignore[union-attr]
        old = Ticket.objects.filter(pk=ticket.pk).values_list(attname, flat=True).get()
        new = value.pk if hasattr(value, "pk") else value
        if old == new:
            return
        setattr(ticket, field, value)
        ticket.updated_at = now
        ticket.save(update_fields=[field, "updated_at"])
        record_change(ticket, EventKind.FIELD_CHANGED, actor=actor, at=now, cause=cause,
                       field=field, to=new, **{"from": old})  # fmt: skip


def change_priority(
    ticket: Ticket,
    priority: str,
    *,
    actor: Changer,
    now: datetime,
    cause: TicketEvent | None = None,
) -> None:
    _check_choice(priority, Priority, "priority")
    _change_field(ticket, "priority", priority, actor=actor, now=now, cause=cause)


def change_type(
    ticket: Ticket,
    type: str,
    *,
    actor: Changer,
    now: datetime,
    cause: TicketEvent | None = None,
) -> None:
    if type:
        _check_choice(type, TicketType, "ticket type")
    _change_field(ticket, "type", type, actor=actor, now=now, cause=cause)


def change_team(
    ticket: Ticket,
    team: Team | None,
    *,
    actor: Changer,
    now: datetime,
    cause: TicketEvent | None = None,
) -> None:
    _change_field(ticket, "team", team, actor=actor, now=now, cause=cause)


def assign(
    ticket: Ticket,
    assignee: User | None,
    *,
    actor: Changer,
    now: datetime,
    cause: TicketEvent | None = None,
) -> None:
    """Give the ticket to an agent (or nobody); a New ticket becomes Open."""
    check_may_change(actor, ticket)
    if assignee is not None and not permissions.is_agent(assignee):
        raise InvalidInput(f"{assignee} is not an agent and cannot be assigned tickets.")
    if assignee is not None and not permissions.may_view_ticket(assignee, ticket):
        raise InvalidInput(f"{assignee} cannot see ticket #{ticket.number}'s team.")
    with transaction.atomic():
        lock_ticket(ticket)
        check_open_for_changes(ticket)
        old = ticket.assignee_id
        new = assignee.pk if assignee is not None else None
        if old == new:
            return
        ticket.assignee_id = new
        ticket.updated_at = now
        ticket.save(update_fields=["assignee", "updated_at"])
        record_change(
            ticket, EventKind.ASSIGNED, actor=actor, at=now, cause=cause, to=new, **{"from": old}
        )
        if ticket.status == Status.NEW and new is not None:
            _set_status(ticket, Status.OPEN, actor=actor, now=now, cause=cause)


def set_tags(
    ticket: Ticket,
    tags: Iterable[str],
    *,
    actor: Changer,
    now: datetime,
    cause: TicketEvent | None = None,
) -> None:
    check_may_change(actor, ticket)
    names = _clean_tags(tags)
    with transaction.atomic():
        lock_ticket(ticket)
        check_open_for_changes(ticket)
        old = sorted(ticket.tags.values_list("name", flat=True))
        if old == names:
            return
        ticket.tags.set(_tag_objects(names))
        ticket.updated_at = now
        ticket.save(update_fields=["updated_at"])
        record_change(ticket, EventKind.FIELD_CHANGED, actor=actor, at=now, cause=cause,
                       field="tags", to=names, **{"from": old})  # fmt: skip


def set_custom_fields(
    ticket: Ticket, values: Mapping[str, object], *, actor: User, now: datetime
) -> None:
    permissions.check_change_ticket(actor, ticket)
    with transaction.atomic():
        lock_ticket(ticket)
        check_open_for_changes(ticket)
        old = Ticket.objects.filter(pk=ticket.pk).values_list("custom_fields", flat=True).get()
        new = clean_custom_fields("ticket", values, existing=old)
        if new == old:
            return
        ticket.custom_fields = new
        ticket.updated_at = now
        ticket.save(update_fields=["custom_fields", "updated_at"])
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                record(ticket, EventKind.FIELD_CHANGED, actor=actor, at=now,
                       field=f"custom.{key}", to=new.get(key),
                       **{"from": old.get(key)})  # fmt: skip


SPAM_TAG = "spam"


def mark_spam(ticket: Ticket, *, actor: User, now: datetime) -> None:
    """Tag the ticket `spam` and solve it, so it leaves every open view; each change is an event."""
    permissions.check_change_ticket(actor, ticket)
    with transaction.atomic():
        current = list(ticket.tags.values_list("name", flat=True))
        set_tags(ticket, [*current, SPAM_TAG], actor=actor, now=now)
        change_status(ticket, Status.SOLVED, actor=actor, now=now)
