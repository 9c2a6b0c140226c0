"""What parsing could not read (`_Defects`), and the text clean-up every parsing step shares.

`parse` never raises: each step runs under `_guarded`, and what it could not read becomes a
human-readable defect instead of an exception.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import email.utils
import re
from collections.abc import Callable, Iterable

# --------------------------------------------------------------------------------------------
# Defects


_DEFECT_TEXT: dict[type, str] = {
    email.errors.NoBoundaryInMultipartDefect: "multipart part has no boundary",
    email.errors.StartBoundaryNotFoundDefect: "the multipart boundary was never found",
    email.errors.CloseBoundaryNotFoundDefect: "the closing multipart boundary is missing",
    email.errors.FirstHeaderLineIsContinuationDefect: "the first header line is a continuation",
    email.errors.MisplacedEnvelopeHeaderDefect: "a 'From ' envelope line inside the headers",
    email.errors.MissingHeaderBodySeparatorDefect: "a line in the headers is not a header",
    email.errors.MultipartInvariantViolationDefect: "multipart type without sub-parts",
    email.errors.InvalidMultipartContentTransferEncodingDefect: (
        "multipart part with a transfer encoding other than 7bit/8bit/binary"
    ),
    email.errors.InvalidBase64PaddingDefect: "bad base64 padding",
    email.errors.InvalidBase64CharactersDefect: "invalid characters in base64 data",
    email.errors.InvalidBase64LengthDefect: "base64 data of an impossible length",
    email.errors.InvalidDateDefect: "unparseable date",
}


class _Defects:
    """An ordered set of human-readable problems."""

    def __init__(self) -> None:
        self._items: dict[str, None] = {}

    def add(self, text: str) -> None:
        self._items.setdefault(_clean(text)[:500], None)

    def add_email_defects(self, where: str, defects: Iterable[object]) -> None:
        for defect in defects:
            description = _DEFECT_TEXT.get(type(defect))
            if description is None:
                description = str(defect) or (type(defect).__doc__ or "").strip().split("\n")[0]
                description = description or type(defect).__name__
            self.add(f"{where}: {description}")

    def items(self) -> tuple[str, ...]:
        return tuple(self._items)


# --------------------------------------------------------------------------------------------
# Small text helpers

_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROL_EXCEPT_WS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(text: str) -> str:
    """Remove what a database or a browser must never see: NULs, lone surrogates, controls."""
    if _SURROGATES.search(text):
        text = _SURROGATES.sub("\ufffd", text)
    return _CONTROL_EXCEPT_WS.sub("", text)


def _fold(text: str) -> str:
    return " ".join(_clean(text).split())


def _guarded[T](defects: _Defects, what: str, default: T, function: Callable[[], T]) -> T:
    """Run one step of parsing; a failure becomes a defect and a default value.

    The `email` package's header and MIME parsers raise assorted exception types on hostile input
    (IndexError, ValueError, AttributeError, HeaderParseError, ...), and `parse` promises to
    return for any bytes; so each step is guarded on its own and the rest of the message is kept.
    """
    try:
        return function()
    except RecursionError:
        defects.add(f"{what}: nested too deeply")
    except Exception as exc:  # see the docstring
        defects.add(f"{what}: could not be read ({type(exc).__name__})")
    return default
