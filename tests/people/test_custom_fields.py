"""Custom-field definitions, saved by admins only; values are checked against them before they
are stored."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from patron.core.errors import InvalidInput, NotAllowed
from patron.people.custom_fields import (
    clean_custom_fields,
    clean_value,
    delete_custom_field,
    save_custom_field,
)
from patron.people.models import CustomFieldDefinition, Role
from tests import factories

FieldType = CustomFieldDefinition.FieldType


def field(field_type: str, *, required: bool = False, **kwargs: Any) -> CustomFieldDefinition:
    """An unsaved definition: clean_value needs no database."""
    return CustomFieldDefinition(
        applies_to="ticket",
        key=field_type,
        label=kwargs.pop("label", "Answer"),
        field_type=field_type,
        required=required,
        **kwargs,
    )


PLANS = ["basic", "pro", "enterprise"]


@pytest.mark.parametrize(
    ("field_type", "given", "stored"),
    [
        (FieldType.TEXT, "A-123", "A-123"),
        (FieldType.TEXT, 42, "42"),
        (FieldType.NUMBER, "12", 12),
        (FieldType.NUMBER, 12.5, 12.5),
        (FieldType.NUMBER, "-3.0", -3),
        (FieldType.DATE, "2026-11-23", "2026-11-23"),
        (FieldType.CHOICE, "pro", "pro"),
        (FieldType.MULTI_CHOICE, "pro", ["pro"]),
        (FieldType.MULTI_CHOICE, ["enterprise", "basic", "basic"], ["basic", "enterprise"]),
        (FieldType.CHECKBOX, True, True),
        (FieldType.CHECKBOX, "on", True),
        (FieldType.CHECKBOX, "No", False),
    ],
)
def test_it_stores_a_valid_value_in_its_json_form(
    field_type: str, given: object, stored: object
) -> None:
    assert clean_value(field(field_type, choices=PLANS), given) == stored


@pytest.mark.parametrize(
    ("field_type", "given", "message"),
    [
        (FieldType.TEXT, ["a", "b"], "Answer must be text"),
        (FieldType.TEXT, {"a": 1}, "Answer must be text"),
        (FieldType.NUMBER, "twelve", "Answer must be a number, not 'twelve'"),
        (FieldType.NUMBER, "NaN", "Answer must be a finite number"),
        (FieldType.NUMBER, "Infinity", "Answer must be a finite number"),
        (FieldType.NUMBER, True, "Answer must be a number"),
        (FieldType.NUMBER, "1e2000000", "Answer must be a number between"),
        (FieldType.DATE, "23/11/2026", "Answer must be a date like 2026-11-23"),
        (FieldType.DATE, "2026-02-30", "Answer must be a date like"),
        (FieldType.CHOICE, "gold", "Answer must be one of basic, pro, enterprise, not 'gold'"),
        (FieldType.MULTI_CHOICE, ["pro", "gold"], "accepts only basic, pro, enterprise; gold"),
        (FieldType.MULTI_CHOICE, 5, "Answer must be a list of choices"),
        (FieldType.MULTI_CHOICE, {"pro": True}, "Answer must be a list of choices"),
        (FieldType.CHECKBOX, "maybe", "Answer must be checked or unchecked, not 'maybe'"),
        (FieldType.CHECKBOX, 2, "Answer must be checked or unchecked"),
    ],
)
def test_it_rejects_a_value_of_the_wrong_type_with_a_readable_message(
    field_type: str, given: object, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        clean_value(field(field_type, choices=PLANS), given)


@pytest.mark.parametrize("empty", [None, "", []])
def test_it_treats_an_empty_value_as_none(empty: object) -> None:
    assert clean_value(field(FieldType.TEXT), empty) is None


def test_it_refuses_an_empty_value_for_a_required_field() -> None:
    with pytest.raises(InvalidInput, match="Order is required"):
        clean_value(field(FieldType.TEXT, required=True, label="Order"), "")


def test_it_keeps_false_for_a_required_checkbox() -> None:
    assert clean_value(field(FieldType.CHECKBOX, required=True), False) is False


@pytest.fixture
def definitions() -> None:
    CustomFieldDefinition.objects.create(
        applies_to="ticket", key="order", label="Order", field_type=FieldType.TEXT, required=True
    )
    CustomFieldDefinition.objects.create(
        applies_to="ticket", key="seats", label="Seats", field_type=FieldType.NUMBER
    )
    CustomFieldDefinition.objects.create(
        applies_to="contact", key="plan", label="Plan", field_type=FieldType.TEXT
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("definitions")
def test_it_merges_new_values_into_the_existing_ones() -> None:
    cleaned = clean_custom_fields("ticket", {"seats": "4"}, existing={"order": "A-1", "seats": 2})

    assert cleaned == {"order": "A-1", "seats": 4}


@pytest.mark.django_db
@pytest.mark.usefixtures("definitions")
def test_it_removes_a_key_set_to_none() -> None:
    cleaned = clean_custom_fields("ticket", {"seats": None}, existing={"order": "A", "seats": 2})

    assert cleaned == {"order": "A"}


@pytest.mark.django_db
@pytest.mark.usefixtures("definitions")
def test_it_names_every_unknown_field() -> None:
    with pytest.raises(InvalidInput, match="There is no ticket field called colour, plan"):
        clean_custom_fields("ticket", {"plan": "x", "colour": "red", "order": "A"})


@pytest.mark.django_db
@pytest.mark.usefixtures("definitions")
def test_it_requires_every_required_field_on_creation() -> None:
    with pytest.raises(InvalidInput, match="Order is required"):
        clean_custom_fields("ticket", {"seats": 1})


@pytest.mark.django_db
@pytest.mark.usefixtures("definitions")
def test_it_does_not_require_fields_an_update_leaves_alone() -> None:
    assert clean_custom_fields("ticket", {"seats": 1}, existing={}) == {"seats": 1}


@pytest.mark.django_db
@pytest.mark.usefixtures("definitions")
def test_it_refuses_to_clear_a_required_field() -> None:
    with pytest.raises(InvalidInput, match="Order is required"):
        clean_custom_fields("ticket", {"order": None}, existing={"order": "A-1"})


@pytest.mark.django_db
@pytest.mark.usefixtures("definitions")
def test_it_keeps_each_kind_of_object_to_its_own_fields() -> None:
    with pytest.raises(InvalidInput, match="There is no contact field called seats"):
        clean_custom_fields("contact", {"seats": 1})


# Definitions


def admin() -> User:
    return factories.agent(Role.ADMIN, password=None)


def define(definition: CustomFieldDefinition | None = None, **kwargs: Any) -> CustomFieldDefinition:
    actor = kwargs.pop("actor", None) or admin()
    values: dict[str, Any] = {
        "applies_to": "contact", "key": "plan", "label": "Plan", "field_type": FieldType.CHOICE,
        "choices": PLANS, "required": False, "public": False, "position": 0,
    } | kwargs  # fmt: skip
    return save_custom_field(definition, actor=actor, **values)


@pytest.mark.django_db
def test_it_saves_a_definition_keeping_choices_only_for_choice_types() -> None:
    definition = define(key=" plan ", label=" ", choices=[" basic ", "", "pro"])
    assert (definition.key, definition.label, definition.choices) == (
        "plan",
        "plan",
        ["basic", "pro"],
    )

    define(definition, field_type=FieldType.TEXT, label="Plan name")

    stored = CustomFieldDefinition.objects.get()
    assert (stored.label, stored.field_type, stored.choices) == ("Plan name", "text", [])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"applies_to": "agent"}, "apply to contacts, organizations or tickets"),
        ({"field_type": "colour"}, "'colour' is not a field type"),
        ({"key": "two__underscores"}, "Key: use only letters"),
        ({"choices": []}, "Choices: list at least one choice"),
        ({"choices": ["pro", "pro"]}, "Choices: each choice may appear only once"),
    ],
)
def test_it_refuses_a_definition_it_cannot_use(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        define(**change)

    assert not CustomFieldDefinition.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_key_taken_for_the_same_kind_only() -> None:
    define()
    define(applies_to="ticket")

    with pytest.raises(InvalidInput, match="Key: a contact field with the key 'plan' already"):
        define(label="Another plan")


@pytest.mark.django_db
def test_it_lets_only_admins_change_definitions() -> None:
    definition = define()
    agent = factories.agent(password=None)

    with pytest.raises(NotAllowed):
        define(actor=agent, key="tier")
    with pytest.raises(NotAllowed):
        delete_custom_field(definition, actor=agent)

    delete_custom_field(definition, actor=admin())
    assert not CustomFieldDefinition.objects.exists()
