"""Turn a seed into a deterministic description of the demo desk: people, and every conversation.

Nothing here touches the database; `patron.demo.loader` plays a plan through the services. The
same seed, size and `now` always give the same plan.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from patron.demo import corpus
from patron.demo.corpus import BILLING, CLIENT_SUCCESS, RETAIL, Utterance
from patron.people.models import Relationship, Role
from patron.tickets.models import Channel, Priority, Status

DEMO_SEED = 20261123
DEMO_TICKETS = 2000
DEMO_DAYS = 90
CLIENT_SHARE = 0.22  # of tickets
DAYS_BEFORE_CLOSING = 4  # a solved ticket is closed this long after it was solved
ADMIN_USERNAME = "admin"

TEAMS = (
    (CLIENT_SUCCESS, "Account managers and the people who look after our clients."),
    (RETAIL, "Orders, deliveries, accounts: everything our customers ask."),
    (BILLING, "Invoices, payments and refunds."),
)


@dataclass(frozen=True)
class AgentSpec:
    username: str
    first_name: str
    last_name: str
    role: str
    teams: tuple[str, ...]
    weight: int = 1  # share of the tickets they pick up in their teams


AGENTS: tuple[AgentSpec, ...] = (
    AgentSpec(ADMIN_USERNAME, "", "", Role.ADMIN, (RETAIL, CLIENT_SUCCESS), weight=1),
    AgentSpec("mara.okafor", "Mara", "Okafor", Role.SUPERVISOR, (CLIENT_SUCCESS, RETAIL, BILLING)),
    AgentSpec("james.whitfield", "James", "Whitfield", Role.AGENT, (CLIENT_SUCCESS,), weight=4),
    AgentSpec("priya.raman", "Priya", "Raman", Role.AGENT, (CLIENT_SUCCESS,), weight=4),
    AgentSpec("tom.becker", "Tom", "Becker", Role.AGENT, (RETAIL,), weight=5),
    AgentSpec("lucia.moreno", "Lucía", "Moreno", Role.AGENT, (RETAIL, BILLING), weight=5),
    AgentSpec("sam.ito", "Sam", "Ito", Role.AGENT, (RETAIL,), weight=4),
    AgentSpec("nadia.haddad", "Nadia", "Haddad", Role.AGENT, (BILLING,), weight=5),
    AgentSpec("felix.brandt", "Felix", "Brandt", Role.LIGHT_AGENT, (BILLING,), weight=0),
)
SUPERVISOR = "mara.okafor"
LIGHT_AGENT = "felix.brandt"
ACCOUNT_MANAGERS = ("james.whitfield", "priya.raman")


@dataclass(frozen=True)
class OrganizationSpec:
    name: str
    relationship: str
    tier: str
    domains: tuple[str, ...]
    account_manager: str = ""
    kind: str = ""  # what sort of account, for the notes


CLIENT_ORGANIZATIONS: tuple[OrganizationSpec, ...] = (
    OrganizationSpec("Hartwell Family Office", "client", "platinum", ("hartwell-office.example",),
                     "james.whitfield", "family office"),
    OrganizationSpec("Alder & Finch Private Wealth", "client", "platinum", ("alderfinch.example",),
                     "priya.raman", "wealth management"),
    OrganizationSpec("Paloma Hotels Group", "client", "platinum",
                     ("palomahotels.example", "paloma-group.example"), "james.whitfield", "B2B"),
    OrganizationSpec("Castellan Foundation", "client", "gold", ("castellan-foundation.example",),
                     "priya.raman", "foundation"),
    OrganizationSpec("Vireo Capital Partners", "client", "gold", ("vireocapital.example",),
                     "james.whitfield", "wealth management"),
    OrganizationSpec("Okonkwo Heritage Holdings", "client", "gold", ("okonkwo-heritage.example",),
                     "priya.raman", "family office"),
    OrganizationSpec("Meridian Freight GmbH", "client", "gold", ("meridian-freight.example",),
                     "james.whitfield", "B2B"),
    OrganizationSpec("Brightwater Trust", "client", "silver", ("brightwater-trust.example",),
                     "priya.raman", "trust"),
    OrganizationSpec("Linden Street Clinics", "client", "silver", ("lindenclinics.example",),
                     "james.whitfield", "B2B"),
    OrganizationSpec("Solent Marine Supplies", "client", "silver", ("solentmarine.example",),
                     "priya.raman", "B2B"),
    OrganizationSpec("Nordlicht Software AG", "client", "silver", ("nordlicht.example",),
                     "james.whitfield", "B2B"),
    OrganizationSpec("Quarry Lane Architects", "client", "silver", ("quarrylane.example",),
                     "priya.raman", "B2B"),
)  # fmt: skip
CUSTOMER_ORGANIZATIONS: tuple[OrganizationSpec, ...] = (
    OrganizationSpec("Bluebell Café", "customer", "", ("bluebellcafe.example",)),
    OrganizationSpec("Kestrel Cycles", "customer", "", ("kestrelcycles.example",)),
    OrganizationSpec("Tidewater Yoga Studio", "customer", "", ("tidewateryoga.example",)),
    OrganizationSpec(
        "Oakmoor School Parents' Association", "customer", "", ("oakmoor-pa.example",)
    ),
)
MARKER_ORGANIZATION = CLIENT_ORGANIZATIONS[0].name
TIER_WEIGHT = {"platinum": 5, "gold": 3, "silver": 2}

FIRST_NAMES = (
    "Amelia", "Noah", "Olivia", "Liam", "Sophie", "Lukas", "Emma", "Mateo", "Chloé", "Hannah",
    "Yusuf", "Aisha", "Daniel", "Mia", "Jonas", "Léa", "Oliver", "Isabella", "Ethan", "Zara",
    "Kwame", "Ingrid", "Ravi", "Mei", "Tomasz", "Freya", "Diego", "Nora", "Hugo", "Amara",
    "Felipe", "Elif", "Sven", "Grace", "Omar", "Lucia", "Finn", "Anika", "Marco", "Saoirse",
    "Kenji", "Ines", "Arjun", "Camille", "Leon", "Fatima", "Henrik", "Clara", "Tariq", "Maja",
)  # fmt: skip
LAST_NAMES = (
    "Schmidt", "García", "Okoye", "Novak", "Jensen", "Rossi", "Dubois", "Kowalski", "Andersson",
    "Murphy", "Tanaka", "Haddad", "Patel", "Fischer", "Moreau", "Costa", "Nielsen", "Brennan",
    "Yilmaz", "Kim", "Larsen", "Mensah", "Silva", "Weber", "Horvat", "Lindqvist", "O'Brien",
    "Petrov", "Ahmed", "Bauer", "Santos", "Virtanen", "Chen", "Müller", "Ibrahim", "Lopez",
    "Walsh", "Nowak", "Sato", "Eriksen", "Hughes", "Romano", "Dimitrov", "Banerjee", "Klein",
)  # fmt: skip
PERSONAL_DOMAINS = ("mail.example", "postbox.example", "inbox.example", "webmail.example")
LANGUAGES = ("en", "en", "en", "de", "fr", "es", "nl")
TIME_ZONES = ("Europe/Berlin", "Europe/London", "Europe/Paris", "Europe/Madrid", "America/New_York")


@dataclass(frozen=True)
class ContactSpec:
    email: str
    name: str
    organization: str = ""  # by name; empty for individuals
    relationship_override: str = ""
    language: str = ""
    time_zone: str = ""
    phone: str = ""

    @property
    def is_client(self) -> bool:
        if self.relationship_override:
            return self.relationship_override == Relationship.CLIENT
        return any(org.name == self.organization for org in CLIENT_ORGANIZATIONS)


@dataclass(frozen=True)
class Step:
    """One thing that happens to a ticket after it is created, at a given moment.

    kind: assign | reply | note | customer | status. `actor` is an agent's username (or the
    requester, for `customer`).
    """

    kind: str
    at: datetime
    actor: str = ""
    body: str = ""
    status: str | None = None
    assignee: str = ""


@dataclass(frozen=True)
class TicketSpec:
    requester: str  # the contact's email
    subject: str
    body: str
    created_at: datetime
    channel: str
    priority: str
    type: str
    team: str
    tags: tuple[str, ...]
    on_behalf_of: str = ""  # an agent who logged a phone call for the requester
    steps: tuple[Step, ...] = ()
    final_status: str = Status.NEW


@dataclass(frozen=True)
class DemoPlan:
    seed: int
    now: datetime
    contacts: tuple[ContactSpec, ...]
    tickets: tuple[TicketSpec, ...] = field(repr=False)


def plan_demo(*, now: datetime, tickets: int = DEMO_TICKETS, seed: int = DEMO_SEED) -> DemoPlan:
    """Describe the whole demo; `tickets` scales the number of contacts along with it."""
    rng = random.Random(seed)
    contacts = _plan_contacts(rng, tickets)
    clients = [c for c in contacts if c.is_client]
    customers = [c for c in contacts if not c.is_client]
    client_weights = [_client_weight(c) for c in clients]
    # A few customers write often, most once or twice.
    customer_weights = [1 + 6 * rng.random() ** 6 for _ in customers]
    bitext = corpus.bitext_utterances()
    banking = corpus.banking_utterances()
    created = sorted(_creation_times(rng, now, tickets))
    specs = []
    for created_at in created:
        if rng.random() < CLIENT_SHARE:
            requester = rng.choices(clients, client_weights)[0]
            spec = _client_ticket(rng, requester, rng.choice(banking), created_at, now)
        else:
            requester = rng.choices(customers, customer_weights)[0]
            spec = _customer_ticket(rng, requester, rng.choice(bitext), created_at, now)
        specs.append(spec)
    return DemoPlan(seed=seed, now=now, contacts=tuple(contacts), tickets=tuple(specs))


def _client_weight(contact: ContactSpec) -> int:
    for org in CLIENT_ORGANIZATIONS:
        if org.name == contact.organization:
            return TIER_WEIGHT[org.tier]
    return TIER_WEIGHT["gold"]  # individual private-banking clients


def _person(rng: random.Random, used: set[str], domain: str) -> tuple[str, str]:
    while True:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower().replace("'", "")
        local = local.translate(str.maketrans("éíóúüöäñ", "eiouuoan"))
        email = f"{local}@{domain}"
        if email in used:
            email = f"{local}{rng.randint(2, 99)}@{domain}"
        if email not in used:
            used.add(email)
            return f"{first} {last}", email


def _phone(rng: random.Random) -> str:
    return f"+49 30 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"


def _plan_contacts(rng: random.Random, tickets: int) -> list[ContactSpec]:
    used: set[str] = set()
    contacts = []
    for org in CLIENT_ORGANIZATIONS:
        for _ in range(rng.randint(2, 5)):
            name, email = _person(rng, used, rng.choice(org.domains))
            contacts.append(
                ContactSpec(
                    email,
                    name,
                    organization=org.name,
                    language=rng.choice(LANGUAGES),
                    time_zone=rng.choice(TIME_ZONES),
                    phone=_phone(rng),
                )
            )
    for _ in range(5):  # private-banking clients in their own right
        name, email = _person(rng, used, rng.choice(PERSONAL_DOMAINS))
        contacts.append(
            ContactSpec(
                email,
                name,
                relationship_override=Relationship.CLIENT,
                language=rng.choice(LANGUAGES),
                time_zone=rng.choice(TIME_ZONES),
                phone=_phone(rng),
            )
        )
    for org in CUSTOMER_ORGANIZATIONS:
        for _ in range(rng.randint(2, 4)):
            name, email = _person(rng, used, org.domains[0])
            contacts.append(ContactSpec(email, name, organization=org.name))
    individuals = max(20, min(350, tickets // 6))
    for _ in range(individuals):
        name, email = _person(rng, used, rng.choice(PERSONAL_DOMAINS))
        contacts.append(
            ContactSpec(email, name, language=rng.choice(LANGUAGES) if rng.random() < 0.3 else "")
        )
    return contacts


def _creation_times(rng: random.Random, now: datetime, count: int) -> list[datetime]:
    """Mostly on weekdays and in office hours, a little busier recently."""
    start = now - timedelta(days=DEMO_DAYS)
    times: list[datetime] = []
    while len(times) < count:
        age = timedelta(days=DEMO_DAYS * rng.random() ** 1.15)
        moment = now - age
        if moment <= start or moment >= now - timedelta(minutes=10):
            continue
        office_hours = 8 <= moment.hour < 19 and moment.weekday() < 5
        if not office_hours and rng.random() < 0.7:
            continue
        times.append(moment.replace(microsecond=0))
    return times


def _final_status(rng: random.Random, age: timedelta) -> str:
    days = age.total_seconds() / 86400
    table: tuple[tuple[str, int], ...]
    if days > 14:
        table = ((Status.CLOSED, 80), (Status.SOLVED, 17), (Status.ON_HOLD, 2), (Status.OPEN, 1))
    elif days > DAYS_BEFORE_CLOSING + 1:
        table = (
            (Status.SOLVED, 45),
            (Status.CLOSED, 25),
            (Status.PENDING, 12),
            (Status.OPEN, 10),
            (Status.ON_HOLD, 8),
        )
    elif days > 1:
        table = (
            (Status.OPEN, 30),
            (Status.PENDING, 25),
            (Status.SOLVED, 25),
            (Status.NEW, 10),
            (Status.ON_HOLD, 10),
        )
    else:
        table = ((Status.NEW, 40), (Status.OPEN, 30), (Status.PENDING, 20), (Status.SOLVED, 10))
    statuses, weights = zip(*table, strict=True)
    status = rng.choices(statuses, weights)[0]
    if status == Status.CLOSED and days <= DAYS_BEFORE_CLOSING + 0.5:
        status = Status.SOLVED
    return str(status)


def _pick_agent(rng: random.Random, team: str) -> str:
    members = [a for a in AGENTS if team in a.teams and a.weight > 0]
    return rng.choices([a.username for a in members], [a.weight for a in members])[0]


def _signed(body: str, requester_name: str, agent: str) -> str:
    first = requester_name.split()[0]
    spec = next(a for a in AGENTS if a.username == agent)
    signature = f"{spec.first_name} {spec.last_name}".strip() or "The support team"
    return f"Hi {first},\n\n{body}\n\nBest regards,\n{signature}"


class _Clock:
    """Hands out moments after the ticket was created, never reaching `now`."""

    def __init__(self, rng: random.Random, start: datetime, now: datetime, pace: float) -> None:
        self.rng = rng
        self.at = start
        self.limit = now - timedelta(minutes=1)
        self.pace = pace

    def after(self, low_minutes: float, high_minutes: float) -> datetime:
        wanted = timedelta(minutes=self.rng.uniform(low_minutes, high_minutes) * self.pace)
        room = self.limit - self.at
        step = min(wanted, room * self.rng.uniform(0.15, 0.45))
        self.at = max(self.at + step, self.at + timedelta(seconds=1))
        return self.at.replace(microsecond=0)


def _customer_ticket(
    rng: random.Random,
    requester: ContactSpec,
    said: Utterance,
    created_at: datetime,
    now: datetime,
) -> TicketSpec:
    intent = corpus.CUSTOMER_INTENTS[said.intent]
    priority = _priority(rng, intent.priority_bias, client=False)
    channel = rng.choices(
        (Channel.EMAIL, Channel.WEB, Channel.CHAT, Channel.PHONE), (50, 30, 15, 5)
    )[0]
    team = intent.team
    agent = _pick_agent(rng, team)
    final = _final_status(rng, now - created_at)
    clock = _Clock(rng, created_at, now, pace=1.0)
    steps = _conversation(
        rng,
        clock,
        final=final,
        agent=agent,
        team=team,
        requester=requester,
        first_reply=intent.reply,
        notes=corpus.CUSTOMER_NOTES[team],
        self_assign=True,
    )
    tags = (corpus.tag_for(said.intent), said.category.lower().replace("_", "-"))
    return TicketSpec(
        requester=requester.email,
        subject=corpus.customer_subject(said),
        body=said.text,
        created_at=created_at,
        channel=channel,
        priority=priority,
        type=intent.type,
        team=team,
        tags=tags,
        on_behalf_of=agent if channel == Channel.PHONE else "",
        steps=steps,
        final_status=resulting_status(steps),
    )


def _client_ticket(
    rng: random.Random,
    requester: ContactSpec,
    said: Utterance,
    created_at: datetime,
    now: datetime,
) -> TicketSpec:
    theme = corpus.THEME_NAMED[said.category]
    org = next((o for o in CLIENT_ORGANIZATIONS if o.name == requester.organization), None)
    bias = Priority.URGENT if theme.urgent else Priority.HIGH
    priority = _priority(rng, bias, client=True)
    channel = rng.choices((Channel.EMAIL, Channel.PHONE, Channel.WEB), (65, 25, 10))[0]
    if org is not None and rng.random() < 0.85:
        agent = org.account_manager
    else:
        agent = _pick_agent(rng, CLIENT_SUCCESS)
    final = _final_status(rng, now - created_at)
    clock = _Clock(rng, created_at, now, pace=0.35)  # clients are answered faster
    steps = _conversation(
        rng,
        clock,
        final=final,
        agent=agent,
        team=CLIENT_SUCCESS,
        requester=requester,
        first_reply=theme.reply,
        notes=(theme.note, *corpus.CLIENT_NOTES),
        self_assign=False,
    )
    tags: tuple[str, ...] = ("client", corpus.tag_for(said.intent), corpus.tag_for(theme.name))
    if org is not None:
        tags = (*tags, org.tier)
    return TicketSpec(
        requester=requester.email,
        subject=corpus.client_subject(said),
        body=said.text,
        created_at=created_at,
        channel=channel,
        priority=priority,
        type=theme.type,
        team=CLIENT_SUCCESS,
        tags=tags,
        on_behalf_of=agent if channel == Channel.PHONE else "",
        steps=steps,
        final_status=resulting_status(steps),
    )


def resulting_status(steps: tuple[Step, ...]) -> str:
    """The status the services leave a ticket in after these steps (their rules, replayed)."""
    status = str(Status.NEW)
    for step in steps:
        if step.kind == "assign" and status == Status.NEW:
            status = Status.OPEN
        elif step.kind == "reply":
            status = step.status or (Status.OPEN if status == Status.NEW else status)
        elif step.kind == "customer" and status in (Status.PENDING, Status.SOLVED, Status.ON_HOLD):
            status = Status.OPEN
        elif step.kind == "status" and step.status:
            status = step.status
    return str(status)


def _priority(rng: random.Random, bias: str, *, client: bool) -> str:
    table: dict[str, int]
    if client:
        table = {Priority.NORMAL: 40, Priority.HIGH: 45, Priority.URGENT: 10, Priority.LOW: 5}
    else:
        table = {Priority.LOW: 15, Priority.NORMAL: 65, Priority.HIGH: 17, Priority.URGENT: 3}
    table = {**table, bias: table.get(bias, 0) + 25}
    priorities, weights = zip(*table.items(), strict=True)
    return str(rng.choices(priorities, weights)[0])


def _conversation(
    rng: random.Random,
    clock: _Clock,
    *,
    final: str,
    agent: str,
    team: str,
    requester: ContactSpec,
    first_reply: str,
    notes: tuple[str, ...],
    self_assign: bool,
) -> tuple[Step, ...]:
    """The steps after creation that aim to leave the ticket in `final` status, in time order."""
    steps: list[Step] = []

    def customer_writes(texts: tuple[str, ...], low: float = 60, high: float = 2000) -> None:
        steps.append(Step("customer", clock.after(low, high), body=rng.choice(texts)))

    def agent_replies(text: str, status: str, low: float, high: float) -> None:
        body = _signed(text, requester.name, agent)
        steps.append(Step("reply", clock.after(low, high), actor=agent, body=body, status=status))

    def note(author: str, texts: tuple[str, ...], low: float, high: float) -> None:
        steps.append(Step("note", clock.after(low, high), actor=author, body=rng.choice(texts)))

    def set_status(status: str, actor: str, low: float, high: float) -> None:
        steps.append(Step("status", clock.after(low, high), actor=actor, status=status))

    if final == Status.NEW:
        if rng.random() < 0.25:
            customer_writes(corpus.FOLLOW_UP_WAITING, 60, 600)
        return tuple(steps)
    assigner = agent if self_assign and rng.random() < 0.7 else SUPERVISOR
    steps.append(Step("assign", clock.after(5, 240), actor=assigner, assignee=agent))
    if rng.random() < 0.2:
        note(agent, notes, 5, 90)
    if team == BILLING and rng.random() < 0.3:
        note(LIGHT_AGENT, corpus.LIGHT_AGENT_NOTES, 10, 120)
    if final == Status.OPEN and rng.random() < 0.4:
        return tuple(steps)  # picked up, not answered yet
    solved_at_once = final in (Status.SOLVED, Status.CLOSED) and rng.random() < 0.55
    agent_replies(first_reply, Status.SOLVED if solved_at_once else Status.PENDING, 15, 900)
    if final == Status.PENDING:
        return tuple(steps)
    if final == Status.OPEN:
        customer_writes(corpus.FOLLOW_UPS_UNRESOLVED)
        return tuple(steps)
    if final == Status.ON_HOLD:
        customer_writes(corpus.FOLLOW_UPS_UNRESOLVED)
        note(agent, corpus.HOLD_NOTES, 10, 240)
        set_status(Status.ON_HOLD, agent, 1, 5)
        return tuple(steps)
    # Solved, and perhaps closed later.
    if solved_at_once:
        if rng.random() < 0.3:  # a thank-you reopens the ticket; the agent solves it again
            customer_writes(corpus.FOLLOW_UPS_RESOLVED, 30, 900)
            set_status(Status.SOLVED, agent, 5, 120)
    else:
        if rng.random() < 0.5:
            customer_writes(corpus.FOLLOW_UPS_UNRESOLVED)
            agent_replies(rng.choice(corpus.SECOND_REPLIES), Status.PENDING, 20, 600)
        customer_writes(corpus.FOLLOW_UPS_RESOLVED)
        agent_replies(rng.choice(corpus.CLOSING_REPLIES), Status.SOLVED, 10, 300)
    if final == Status.CLOSED:
        closing = steps[-1].at + timedelta(days=DAYS_BEFORE_CLOSING)
        if closing < clock.limit:  # otherwise it stays solved: too recent to close
            steps.append(Step("status", closing, actor=SUPERVISOR, status=Status.CLOSED))
    return tuple(steps)
