"""Ready-made triggers for the desk's two kinds of people, installed by `patron demo` and
offered on a new desk's set-up (docs/automation.md).

Clients are few and valuable: their account manager hears of what matters at once. Customers
come in volume: the desk keeps them moving."""

from __future__ import annotations

from typing import Any

CLIENT = {"field": "relationship", "op": "eq", "value": "client"}
CUSTOMER = {"field": "relationship", "op": "eq", "value": "customer"}

CLIENT_PRESETS: list[dict[str, Any]] = [
    {
        "name": "Clients: urgent tickets escalate to the account manager",
        "description": "Once per ticket: tagged escalated, and the account manager is told.",
        "moments": ["created", "updated"],
        "rule": {
            "all": [
                CLIENT,
                {"field": "priority", "op": "eq", "value": "urgent"},
                {"field": "tag", "op": "ne", "value": "escalated"},
            ]
        },
        "actions": [
            {"type": "add_tags", "value": ["escalated"]},
            {"type": "notify", "to": "account_manager"},
        ],
    },
    {
        "name": "Clients: SLA warning reaches the account manager",
        "moments": ["sla_warning"],
        "rule": {"all": [CLIENT]},
        "actions": [{"type": "notify", "to": "account_manager"}],
    },
    {
        "name": "Clients: SLA breach goes to the leads and the account manager",
        "moments": ["sla_breached"],
        "rule": {"all": [CLIENT]},
        "actions": [
            {"type": "add_tags", "value": ["sla-breached"]},
            {"type": "notify", "to": "team_leads"},
            {"type": "notify", "to": "account_manager"},
        ],
    },
]

CUSTOMER_PRESETS: list[dict[str, Any]] = [
    {
        "name": "Customers: a breached ticket goes up to high",
        "moments": ["sla_breached"],
        "rule": {"all": [CUSTOMER, {"field": "priority", "op": "in", "value": ["low", "normal"]}]},
        "actions": [{"type": "set_priority", "value": "high"}],
    },
]
