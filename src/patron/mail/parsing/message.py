"""The entry points: `parse` turns any bytes into a `ParsedMail` (never raising), and
`is_unprocessable` says when nothing usable is left.

This module mends the header block the email package would stop at, walks the MIME tree and
assembles the result from the other modules of the package.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import email.utils
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.parser import BytesParser
from functools import partial

from patron.mail.parsing.autoreply import Bounce, _auto_submitted, _bounce
from patron.mail.parsing.defects import _clean, _Defects, _fold, _guarded
from patron.mail.parsing.headers import (
    Address,
    _addresses,
    _date,
    _decode_header,
    _ids,
    _message_id,
    _raw_header_text,
)
from patron.mail.parsing.html import html_to_text, sanitize_mail_html
from patron.mail.parsing.mime import ParsedAttachment, _collect_attachments, _Walk, _walk
from patron.mail.quotes import Split, split_html, split_text

_NOTHING = Split("", "")


@dataclass(frozen=True)
class ReplyParts:
    """What the sender wrote this time and what they quoted, as text and as sanitized HTML."""

    text: Split = _NOTHING
    html: Split = _NOTHING  # both parts sanitized, remote images blocked


@dataclass(frozen=True)
class ParsedMail:
    message_id: str | None  # without <>, stripped; None if missing/empty
    in_reply_to: tuple[str, ...]  # ids without <>
    references: tuple[str, ...]
    subject: str  # RFC 2047 decoded, whitespace folded
    sender: Address | None  # From (first), None if missing
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None  # aware, UTC; None if missing/unparseable
    text: str  # text/plain body, or text derived from the HTML when there is only HTML
    html: str  # sanitized HTML ("" if none); remote images blocked
    attachments: tuple[ParsedAttachment, ...]
    auto_submitted: str | None  # why this is an automatic message, else None
    bounce: Bounce | None  # for multipart/report; report-type=delivery-status
    headers: tuple[tuple[str, str], ...]  # all headers, decoded, in order
    defects: tuple[str, ...]  # human-readable problems found
    oversized: tuple[str, ...] = ()  # "filename (N bytes)" of attachments over the limit
    return_path: str | None = None  # the envelope sender from Return-Path ("" for <>)
    reply: ReplyParts = field(default_factory=ReplyParts)  # the new part and the quoted rest


# --------------------------------------------------------------------------------------------
# The entry points


def _attachment_limit(max_attachment_bytes: int | None) -> int | None:
    if max_attachment_bytes is not None:
        return max_attachment_bytes
    try:
        from django.conf import settings

        value = getattr(settings, "PATRON_MAX_ATTACHMENT_BYTES", None)
    except Exception:  # settings not configured: parsing needs no Django
        return None
    return value if isinstance(value, int) else None


def parse(raw: bytes, *, max_attachment_bytes: int | None = None) -> ParsedMail:
    """Parse any bytes into a ParsedMail; problems go to `defects`, never to an exception.

    `max_attachment_bytes` defaults to settings.PATRON_MAX_ATTACHMENT_BYTES; larger attachments
    are listed in `oversized` and `defects` instead of `attachments`.
    """
    defects = _Defects()
    limit = _attachment_limit(max_attachment_bytes)
    try:
        data = bytes(raw)
    except (TypeError, ValueError):
        data = str(raw).encode("utf-8", "surrogateescape")
    try:
        return _parse(data, limit, defects)
    except RecursionError:
        defects.add("message: nested too deeply to read; headers only")
    except Exception as exc:  # the contract is: any bytes give a ParsedMail
        defects.add(f"message: could not be read ({type(exc).__name__}); headers only")
    return _headers_only(data, defects)


def _headers_only(data: bytes, defects: _Defects) -> ParsedMail:
    try:
        message = BytesParser(policy=email.policy.compat32).parsebytes(data, headersonly=True)
        return _build(message, defects, _Walk(defects=defects), None)
    except Exception:  # the last resort of the never-raise contract
        defects.add("message: headers unreadable")
        return ParsedMail(
            message_id=None, in_reply_to=(), references=(), subject="", sender=None,
            reply_to=(), to=(), cc=(), date=None, text="", html="", attachments=(),
            auto_submitted=None, bounce=None, headers=(), defects=defects.items(),
        )  # fmt: skip


_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
_SPACE_BEFORE_COLON = re.compile(rb"^([!-9;-~]+)[ \t]+:")
_COMMON_HEADER = re.compile(
    rb"^(?:from|to|cc|subject|date|message-id|reply-to|in-reply-to|references|sender"
    rb"|mime-version|content-[a-z-]+|received|return-path|delivered-to|x-[a-z0-9-]+"
    rb"|dkim-signature|authentication-results|list-[a-z-]+)[ \t]*:",
    re.IGNORECASE,
)


def _repair_header_block(data: bytes, defects: _Defects) -> bytes:
    """Mend two header faults the parser stops at, so the headers after them are not lost.

    A stray line that is no header ("quite Delivered-To: …") ends the headers for the email
    package, pushing From and Subject into the body; obsolete syntax puts spaces before the
    colon ("Subject  : …", RFC 5322 section 4.5). Only lines followed by more headers are
    dropped, and only when a well-known header follows, so a message that merely lacks the
    blank line keeps its body.
    """
    end = re.search(rb"\r?\n\r?\n", data)
    block_end = end.start() if end else len(data)
    lines = data[:block_end].split(b"\n")
    is_header = [bool(_HEADER_LINE.match(line)) for line in lines]
    if all(is_header[i] or lines[i][:1] in (b" ", b"\t") for i in range(len(lines))) and not any(
        _SPACE_BEFORE_COLON.match(line) for line in lines
    ):
        return data
    last_header = max((i for i, line in enumerate(lines) if _COMMON_HEADER.match(line)), default=-1)
    kept: list[bytes] = []
    for number, line in enumerate(lines):
        if is_header[number]:
            fixed = _SPACE_BEFORE_COLON.sub(rb"\1:", line)
            if fixed != line:
                defects.add("message: obsolete header syntax (space before the colon)")
            kept.append(fixed)
        elif (
            line[:1] in (b" ", b"\t")
            or number > last_header
            or (number == 0 and line.startswith(b"From "))
        ):
            kept.append(line)
        else:
            defects.add(f"message: header line {number + 1} is not a header; skipped")
    return b"\n".join(kept) + data[block_end:]


def _parse(data: bytes, limit: int | None, defects: _Defects) -> ParsedMail:
    stripped = data.lstrip(b"\xef\xbb\xbf").lstrip(b"\r\n")
    if stripped != data:
        defects.add("message: leading blank lines or byte-order mark removed")
    if not stripped.strip():
        defects.add("message: empty")
    stripped = _repair_header_block(stripped, defects)
    message = email.message_from_bytes(stripped, policy=email.policy.compat32)
    walk = _Walk(defects=defects)
    _guarded(defects, "message body", None, lambda: _walk(message, walk, "1"))
    return _build(message, defects, walk, limit)


_MAX_HEADER_CHARS = 64 * 1024


def _build(message: Message, defects: _Defects, walk: _Walk, limit: int | None) -> ParsedMail:
    hint = walk.charset_hint
    if hint is None:
        top_charset = message.get_param("charset")
        hint = top_charset if isinstance(top_charset, str) else None
    headers: list[tuple[str, str]] = []
    first: dict[str, str] = {}
    every: dict[str, list[str]] = {}
    decoded_first: dict[str, str] = {}
    for name, value in message.raw_items():
        key = _clean(name).strip()
        raw_value = value if isinstance(value, str) else str(value)
        if len(raw_value) > _MAX_HEADER_CHARS:
            # The stdlib's header parsers slow down faster than linearly with length.
            defects.add(f"header {key[:40]}: {len(raw_value)} characters; only the start read")
            cut = raw_value.rfind(",", 0, _MAX_HEADER_CHARS)  # keep whole addresses
            raw_value = raw_value[: cut if cut > _MAX_HEADER_CHARS // 2 else _MAX_HEADER_CHARS]
        decoded = _guarded(
            defects,
            f"header {key[:40]}",
            _clean(_raw_header_text(raw_value, hint)),
            partial(_decode_header, raw_value, hint),
        ).strip()
        headers.append((key, decoded))
        first.setdefault(key.lower(), raw_value)
        every.setdefault(key.lower(), []).append(raw_value)
        decoded_first.setdefault(key.lower(), decoded)
    if not headers:
        defects.add("message: no headers")
    subject = _fold(decoded_first.get("subject", ""))

    def addresses(name: str, label: str) -> tuple[Address, ...]:
        values = every.get(name, [])
        found: list[Address] = []
        for value in values:
            found.extend(
                _guarded(
                    defects, f"header {label}", (), partial(_addresses, value, defects, label, hint)
                )
            )
        return tuple(found)

    senders = addresses("from", "From")
    htmls = [sanitize_mail_html(h).strip() for h in walk.htmls]
    html = "\n".join(h for h in htmls if h)
    text = "\n\n".join(t.strip("\n") for t in walk.texts if t.strip())
    raw_html = "\n".join(h for h in walk.htmls if h.strip())
    reply = _guarded(
        defects,
        "reply extraction",
        ReplyParts(Split(text, ""), Split(html, "")),
        partial(reply_parts, raw_html if html else "", text),
    )
    if not text and html:
        text = html_to_text(html)
    attachments, oversized = _collect_attachments(walk, html, limit)
    bounce = None
    if walk.reports:
        bounce = _guarded(
            defects, "delivery report", None, lambda: _bounce(walk.reports[0], defects)
        )
    auto = _auto_submitted(first, subject)
    if auto is None and bounce is not None:
        auto = "delivery status notification"
    if auto is None and any(
        str(r.get_param("report-type") or "").lower() == "disposition-notification"
        for r in walk.reports
    ):
        auto = "read receipt (disposition notification)"
    return_path = None
    if "return-path" in first:
        return_path = _clean(_raw_header_text(first["return-path"])).strip().strip("<>").strip()
    return ParsedMail(
        message_id=_message_id(first.get("message-id")),
        in_reply_to=_ids(_raw_header_text(first.get("in-reply-to", ""))),
        references=_ids(" ".join(_raw_header_text(v) for v in every.get("references", []))),
        subject=subject,
        sender=senders[0] if senders else None,
        reply_to=addresses("reply-to", "Reply-To"),
        to=addresses("to", "To"),
        cc=addresses("cc", "Cc"),
        date=_guarded(defects, "header Date", None, lambda: _date(first.get("date"), defects)),
        text=text,
        html=html,
        attachments=tuple(attachments),
        auto_submitted=auto,
        bounce=bounce,
        headers=tuple(headers),
        defects=defects.items(),
        oversized=tuple(oversized),
        return_path=return_path,
        reply=reply,
    )


def reply_parts(html: str, text: str) -> ReplyParts:
    """Split a body into the new part and the quoted rest: the one road for ingest and benchmark.

    `html` is the mail's HTML as it came (unsanitized): the quote splitter needs the marks mail
    clients leave (Gmail's `gmail_quote`, Outlook's `divRplyFwdMsg`, Apple's
    `<blockquote type="cite">`), which sanitizing strips. The splitter only finds the cut; each
    part is sanitized afterwards on its own, so nothing of the raw HTML is ever returned. `text`
    is the text/plain body; without one the text of each HTML part stands in.
    """
    html = _clean(html) if html.strip() else ""
    if html:
        cut = split_html(html)
        html_split = Split(sanitize_mail_html(cut.reply).strip(), sanitize_mail_html(cut.quoted))
        if not html_split.reply:  # nothing visible above the cut: keep the whole as the reply
            html_split = Split(sanitize_mail_html(html).strip(), "")
    else:
        html_split = _NOTHING
    if text.strip():
        text_split = _move_marked_start(split_text(text), html_split.quoted)
    else:
        text_split = Split(html_to_text(html_split.reply), html_to_text(html_split.quoted))
    return ReplyParts(text=text_split, html=html_split)


def _move_marked_start(split: Split, quoted_html: str) -> Split:
    """Move the reply's last line(s) to the quoted part when they are the line the HTML marks as
    the start of the quote: an attribution the text rules do not know ("Στις … έγραψε:") is
    left above the "> " lines of the text/plain part, but sits inside Gmail's gmail_quote."""
    start = next((ln for ln in html_to_text(quoted_html).split("\n") if ln.strip(" >")), "")
    wanted = " ".join(start.strip(" >").split())
    lines = split.reply.rstrip().split("\n")
    for count in (1, 2, 3):  # the text/plain part may wrap the line
        kept, moved_lines = lines[:-count], lines[-count:]
        if wanted and "".join(kept).strip() and " ".join(" ".join(moved_lines).split()) == wanted:
            moved = "\n".join(moved_lines)
            quoted = f"{moved}\n{split.quoted}" if split.quoted else moved
            return Split("\n".join(kept).rstrip(), quoted)
    return split


def is_unprocessable(parsed: ParsedMail) -> str | None:
    """Why nothing usable can be made of this mail (no one to answer), or None."""
    if not parsed.headers:
        return "no mail headers: this is not an email message"
    if parsed.sender is None or not parsed.sender.address:
        if any(a.address for a in parsed.reply_to):
            return None  # the ingest answers the Reply-To address
        if parsed.sender is None:
            return "no sender: the From header is missing"
        return "no sender address: the From header cannot be read"
    return None
