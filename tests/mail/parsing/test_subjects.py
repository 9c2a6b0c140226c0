"""Subjects for threading: normalization and ticket tags."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.mail.parsing import normalize_subject, ticket_tag

# --------------------------------------------------------------------------------------------
# Subjects for threading


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Printer jam", "printer jam"),
        ("Re: Printer jam", "printer jam"),
        ("RE: RE: re:Printer   Jam ", "printer jam"),
        ("Re[2]: Printer jam", "printer jam"),
        ("Re(3): Printer jam", "printer jam"),
        ("Fw: Fwd: FW: Printer jam", "printer jam"),
        ("AW: WG: Printer jam", "printer jam"),
        ("Antw: Doorst: Printer jam", "printer jam"),
        ("TR : RE : Printer jam", "printer jam"),
        ("RV: Enc: Printer jam", "printer jam"),
        ("Balas: Bls: Printer jam", "printer jam"),
        ("SV: VS: Printer jam", "printer jam"),
        ("[EXTERNAL] Re: Printer jam", "printer jam"),
        ("Re: [External] *EXTERNAL* Printer jam", "printer jam"),
        ("Re: [#1042] Printer jam", "printer jam"),
        ("Printer jam [#1042]", "printer jam"),
        ("RE: AW: [EXTERNAL] Fwd: [#1234] Printer  jam", "printer jam"),
        ("Re\uff1aPrinter jam", "printer jam"),  # full-width colon (CJK mail clients)
        ("Regarding: the printer", "regarding: the printer"),
        ("Reply needed", "reply needed"),
        ("[Printer] Re: jam", "[printer] re: jam"),
        ("", ""),
    ],
)
def test_normalize_subject(subject: str, expected: str) -> None:
    assert normalize_subject(subject) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: [#1042] Printer", 1042),
        ("Printer [#7]", 7),
        ("Printer #1042", None),
        ("[# 1042]", None),
        ("[#abc]", None),
        ("", None),
    ],
)
def test_ticket_tag(subject: str, expected: int | None) -> None:
    assert ticket_tag(subject) == expected


@settings(max_examples=40, deadline=None)
@given(subject=st.text(max_size=60))
def test_normalize_subject_is_idempotent(subject: str) -> None:
    once = normalize_subject(subject)
    assert normalize_subject(once) == once
    assert normalize_subject("Re: " + subject) == once
