"""Subjects, for threading: reply/forward prefixes and `[#1234]` ticket tags."""

from __future__ import annotations

import re

from patron.mail.parsing.defects import _fold

# --------------------------------------------------------------------------------------------
# Subjects, for threading

_PREFIX_WORDS = "re|fw|fwd|aw|wg|antw|doorst|tr|rv|enc|balas|bls|sv|vs|res|odp|vl"
_PREFIX = re.compile(
    r"^\s*(?:"
    rf"(?:{_PREFIX_WORDS})\s*(?:\[\d+\]|\(\d+\))?\s*[:\uff1a]"
    r"|\[\s*external\s*\]|\*\s*external\s*\*|\[#\d{1,12}\]"
    r")",
    re.IGNORECASE,
)
_TICKET_TAG = re.compile(r"\[#(\d{1,12})\]")


def normalize_subject(subject: str) -> str:
    """The subject threading compares: reply/forward prefixes and tags gone, case and space folded.

    "RE: AW: [EXTERNAL] Fwd: [#1234] Printer  jam" → "printer jam".
    """
    text = _fold(subject)
    while True:
        match = _PREFIX.match(text)
        if match is None:
            break
        text = text[match.end() :]
    text = _TICKET_TAG.sub(" ", text)
    return " ".join(text.casefold().split())


def ticket_tag(subject: str) -> int | None:
    """The ticket number of a `[#1234]` tag in the subject, if any."""
    match = _TICKET_TAG.search(subject)
    return int(match.group(1)) if match else None
