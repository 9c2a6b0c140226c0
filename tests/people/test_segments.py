"""The built-in segments, and rules that name a segment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from patron.conditions import describe, matches, to_q, validate
from patron.core.errors import InvalidInput
from patron.people.models import Contact, Segment
from tests import factories


def rule(field: str, value: Any, op: str = "eq") -> dict[str, Any]:
    return {"all": [{"field": field, "op": op, "value": value}]}


@pytest.mark.django_db
def test_it_has_the_builtin_clients_and_customers_segments_after_migrate() -> None:
    builtins = {s.slug: s for s in Segment.objects.filter(builtin=True)}

    assert set(builtins) == {"clients", "customers"}
    assert builtins["clients"].name == "Clients"
    assert builtins["clients"].rule == rule("relationship", "client")
    assert builtins["customers"].rule == rule("relationship", "customer")


@pytest.mark.django_db
def test_a_rule_can_name_a_segment_and_a_segment_another(now: datetime) -> None:
    gold = factories.organization(now=now, name="Globex", relationship="client", tier="gold")
    silver = factories.organization(now=now, name="Initech", relationship="client", tier="silver")
    ann = factories.contact(now=now, organization=gold)
    factories.contact(now=now, organization=silver)
    factories.contact(now=now)
    Segment.objects.create(
        name="Gold clients",
        slug="gold-clients",
        rule={"all": [{"field": "segment", "value": "clients"}, rule("tier", "gold")]},
    )

    in_gold = rule("segment", "gold-clients")

    assert list(Contact.objects.filter(to_q("contact", in_gold))) == [ann]
    assert matches("contact", ann, in_gold)
    assert describe("contact", in_gold) == "Segment is Gold clients"


@pytest.mark.django_db
def test_it_refuses_a_segment_that_names_itself_through_another() -> None:
    Segment.objects.create(name="A", slug="a", rule=rule("segment", "b"))
    Segment.objects.create(name="B", slug="b", rule=rule("segment", "a"))

    with pytest.raises(InvalidInput, match="The segment 'a' names itself through a → b → a"):
        to_q("contact", rule("segment", "a"))


@pytest.mark.django_db
def test_it_refuses_a_segment_that_does_not_exist() -> None:
    with pytest.raises(InvalidInput, match="There is no segment 'vips'"):
        validate("ticket", rule("segment", "vips"))
