"""The walk over the MIME tree: choosing the body among the alternatives, decoding payloads, and
naming and collecting the attachments.
"""

from __future__ import annotations

import base64
import email
import email.errors
import email.policy
import email.utils
import html as html_lib
import io
import mimetypes
import quopri
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import Message
from functools import partial
from urllib.parse import unquote

from patron.mail.parsing.defects import _clean, _Defects, _guarded
from patron.mail.parsing.headers import _decode_header, _message_id, decode_bytes


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str  # decoded, sanitized for storage; made up when missing
    content_type: str  # e.g. "application/pdf"
    data: bytes
    content_id: str | None  # without <>, for cid: references
    inline: bool  # an inline image referenced by the HTML body


# --------------------------------------------------------------------------------------------
# Bodies and attachments


def _unflow(text: str, delsp: bool) -> str:
    """Join the soft line breaks of format=flowed text (RFC 3676)."""
    out: list[str] = []
    buffer: str | None = None
    depth_of_buffer = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        soft = content.endswith(" ") and content != "-- "
        if soft and delsp:
            content = content[:-1]
        if buffer is not None and depth == depth_of_buffer:
            buffer += content
        else:
            if buffer is not None:
                out.append(buffer)
            buffer = (">" * depth + " " if depth else "") + content
            depth_of_buffer = depth
        if not soft:
            out.append(buffer)
            buffer = None
    if buffer is not None:
        out.append(buffer)
    return "\n".join(out)


_KNOWN_CTE = {"7bit", "8bit", "binary", "base64", "quoted-printable"}
_KNOWN_CTE |= {"x-uuencode", "uuencode", "uue", "x-uue"}
_EXTENSIONS = {
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "text/calendar": ".ics",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/rfc822-headers": ".txt",
    "message/delivery-status": ".txt",
    "message/global-delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "application/octet-stream": ".bin",
    "application/pgp-signature": ".asc",
}
_MIME_DB = mimetypes.MimeTypes()  # the built-in table only, the same on every machine
_TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}
_FORBIDDEN_IN_NAMES = re.compile(r'[<>:"|?*\\/]')


def _extension(content_type: str) -> str:
    return _EXTENSIONS.get(content_type) or _MIME_DB.guess_extension(content_type) or ".bin"


def sanitize_filename(name: str, content_type: str, number: int) -> str:
    """A name safe to store and offer for download; made up ("attachment-1.pdf") when empty."""
    name = unicodedata.normalize("NFC", _clean(name))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf"))
    name = _FORBIDDEN_IN_NAMES.sub("_", name)
    name = " ".join(name.split()).strip(" .")
    if not name.strip("_"):
        if content_type in _TNEF_TYPES:
            return "winmail.dat"
        return f"attachment-{number}{_extension(content_type)}"
    if content_type == "message/rfc822" and not name.lower().endswith(".eml"):
        name += ".eml"
    elif content_type == "text/calendar" and not name.lower().endswith((".ics", ".ical", ".vcs")):
        name += ".ics"
    if len(name) > 150:
        stem, dot, ext = name.rpartition(".")
        name = stem[: 150 - len(ext) - 1] + "." + ext if dot and len(ext) <= 10 else name[:150]
    return name


@dataclass
class _Walk:
    """What the walk over the MIME tree collected."""

    defects: _Defects
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    parts: list[tuple[Message, str]] = field(default_factory=list)  # attachments, in order
    reports: list[Message] = field(default_factory=list)  # multipart/report parts
    charset_hint: str | None = None  # the first body charset, for unencoded 8-bit headers
    depth: int = 0


_MAX_DEPTH = 50


_TOKEN = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")


def _memo[T](part: Message, key: str, compute: Callable[[Message], T]) -> T:
    """Compute a per-part value once.

    With policy.default every `part.get()` re-parses the header through the header registry;
    a message of thousands of parts spent most of its time there. The cache lives on the part
    itself, so it is freed with the message and never shared between two parses.
    """
    memo: dict[str, object] = part.__dict__.setdefault("_patron_memo", {})
    if key not in memo:
        memo[key] = compute(part)
    return memo[key]  # type: ignore[return-value]


def _content_type(part: Message) -> str:
    return _memo(part, "content_type", _compute_content_type)


def _compute_content_type(part: Message) -> str:
    """The part's type, or the RFC 2045 default when the header is malformed ("text/")."""
    try:
        value = part.get_content_type()
    except Exception:  # a header the registry cannot parse: the default applies
        value = ""
    if _TOKEN.fullmatch(value):
        return value
    return "text/plain" if value.startswith("text/") or not value else "application/octet-stream"


def _part_label(part: Message, index: str) -> str:
    return f"part {index} ({_content_type(part)})"


def _disposition(part: Message) -> str | None:
    return _memo(part, "disposition", _compute_disposition)


def _compute_disposition(part: Message) -> str | None:
    value = part.get("content-disposition")
    if value is None:
        return None
    return str(value).split(";", 1)[0].strip().lower() or None


_RAW_NAME = re.compile(r"""(?:^|;)\s*(?:file)?name\s*=\s*(?:"([^"]*)"|([^;]*))""", re.IGNORECASE)


def _raw_filename(part: Message) -> str:
    """The file name as written, for the values the parameter parser cuts short.

    "filename=This is a test.txt" (unquoted, with spaces) and "name==?utf-8?B?…?=" (an encoded
    word where a token belongs) both occur in real mail.
    """
    raw_headers = {name.lower(): value for name, value in reversed(list(part.raw_items()))}
    for header in ("content-disposition", "content-type"):
        raw = raw_headers.get(header)
        if not isinstance(raw, str):
            continue
        match = _RAW_NAME.search(re.sub(r"\r?\n[ \t]+", " ", raw))
        if match:
            value = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
            if value:
                return value
    return ""


def _filename(part: Message) -> str:
    return _memo(part, "filename", _compute_filename)


def _compute_filename(part: Message) -> str:
    name = ""
    for value in (part.get_filename(), part.get_param("name", header="content-type")):
        if isinstance(value, tuple):
            value = email.utils.collapse_rfc2231_value(value)
        if isinstance(value, str) and value.strip():
            name = value
            break
    raw = _raw_filename(part)
    if raw and (not name or (raw.startswith(name) and len(raw) > len(name)) or "=?" in raw):
        name = raw
    if not name:
        return ""
    return _decode_header(name) if "=?" in name else _clean(name)


_CTE_ALIASES = {
    "7-bit": "7bit", "7bits": "7bit", "8-bit": "8bit", "8bits": "8bit", "quoted-printable": "qp",
    "quotedprintable": "qp", "qp": "qp", "base-64": "base64", "base64": "base64", "b64": "base64",
}  # fmt: skip


def _payload_bytes(part: Message, walk: _Walk, label: str) -> bytes:
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte and cte not in _KNOWN_CTE and not part.is_multipart():
        normalized = re.sub(r"[\s_]+", "-", cte.strip(" ;\"'"))
        alias = _CTE_ALIASES.get(normalized)
        payload = part.get_payload()
        if alias in ("qp", "base64") and isinstance(payload, str):
            walk.defects.add(f"{label}: misspelt transfer encoding {cte[:40]!r}")
            raw = payload.encode("ascii", "surrogateescape")
            if alias == "qp":
                return quopri.decodestring(raw)
            return _lenient_base64(raw)
        if alias is None:
            walk.defects.add(f"{label}: unknown transfer encoding {cte[:40]!r}; kept as is")
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def _lenient_base64(data: bytes) -> bytes:
    cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    cleaned = cleaned[: len(cleaned) - len(cleaned) % 4]
    try:
        return base64.b64decode(cleaned)
    except ValueError:
        return data


def _text_of(part: Message, walk: _Walk, label: str) -> str:
    data = _payload_bytes(part, walk, label)
    charset = part.get_param("charset")
    if isinstance(charset, tuple):
        charset = email.utils.collapse_rfc2231_value(charset)
    if not isinstance(charset, str) or not charset.strip():
        charset = None
    if charset is None and _content_type(part).partition("/")[2] == "html":
        meta = re.search(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_\-:.]+)", data[:4096], re.I)
        charset = meta.group(1).decode("ascii") if meta else None
    text = decode_bytes(data, charset, walk.defects, label)
    if charset and walk.charset_hint is None:
        walk.charset_hint = charset
    if _content_type(part).partition("/")[2] == "plain":
        fmt = part.get_param("format")
        if isinstance(fmt, str) and fmt.lower() == "flowed":
            delsp = part.get_param("delsp")
            text = _unflow(text, isinstance(delsp, str) and delsp.lower() == "yes")
    return text


def _serialize(message: Message) -> bytes:
    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=email.policy.compat32).flatten(message)
    return buffer.getvalue()


def _walk(part: Message, walk: _Walk, index: str) -> None:
    label = _part_label(part, index)
    walk.defects.add_email_defects(label if index != "1" else "message", part.defects)
    walk.depth += 1
    try:
        if walk.depth > _MAX_DEPTH:
            walk.defects.add(f"{label}: nested more than {_MAX_DEPTH} levels; kept as attachment")
            walk.parts.append((part, index))
            return
        _walk_part(part, walk, index, label)
    finally:
        walk.depth -= 1


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _walk_part(part: Message, walk: _Walk, index: str, label: str) -> None:
    content_type = _content_type(part)
    maintype, _, subtype = content_type.partition("/")
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        maintype, subtype = "multipart", part.get_content_subtype()  # "multipart/": still parts
    disposition = _disposition(part)
    if maintype == "multipart":
        children = _children(part)
        if not part.is_multipart() or not children:
            walk.defects.add(f"{label}: multipart without parts; read as text")
            text = _text_of(part, walk, label).strip()
            if text:
                walk.texts.append(text)
            return
        if subtype == "report":
            walk.reports.append(part)
        if subtype == "alternative":
            _walk_alternative(children, walk, index)
        elif subtype == "related":
            _walk_related(part, children, walk, index)
        else:
            for number, child in enumerate(children, 1):
                _guarded(
                    walk.defects,
                    f"part {index}.{number}",
                    None,
                    partial(_walk, child, walk, f"{index}.{number}"),
                )
        return
    is_body_text = content_type in ("text/plain", "text/html")
    if (
        is_body_text
        and disposition != "attachment"
        and (disposition == "inline" or not _filename(part))
    ):
        text = _text_of(part, walk, label)
        (walk.texts if subtype == "plain" else walk.htmls).append(text)
        return
    walk.parts.append((part, index))


def _walk_alternative(children: list[Message], walk: _Walk, index: str) -> None:
    """Keep the plain and the HTML rendition (the last of each: the richest, RFC 2046 says)."""
    plain: tuple[Message, str] | None = None
    rich: tuple[Message, str] | None = None
    for number, child in enumerate(children, 1):
        child_index = f"{index}.{number}"
        content_type = _content_type(child)
        if content_type == "text/plain" and _disposition(child) != "attachment":
            plain = (child, child_index)
        elif content_type == "text/html" or _content_type(child).partition("/")[0] == "multipart":
            rich = (child, child_index)
        elif content_type == "text/calendar" or _content_type(child).partition("/")[0] != "text":
            walk.parts.append((child, child_index))  # an invitation, or something not a body
        # other text renditions (text/enriched, text/watch-html) repeat the body: dropped
    if plain is None and rich is None and children:
        rich = (children[0], f"{index}.1")
    for chosen in (plain, rich):
        if chosen is not None:
            _walk(chosen[0], walk, chosen[1])


def _walk_related(part: Message, children: list[Message], walk: _Walk, index: str) -> None:
    start = part.get_param("start", header="content-type")
    root_number = 1
    if isinstance(start, str) and start.strip():
        wanted = start.strip().strip("<>")
        for number, child in enumerate(children, 1):
            if str(child.get("content-id", "")).strip().strip("<>") == wanted:
                root_number = number
                break
    for number, child in enumerate(children, 1):
        if number == root_number:
            _walk(child, walk, f"{index}.{number}")
        else:
            walk.parts.append((child, f"{index}.{number}"))


def _attachment_data(part: Message, walk: _Walk, label: str) -> bytes:
    if _content_type(part).partition("/")[0] == "message":
        children = _children(part)
        if _content_type(part).partition("/")[2] in ("rfc822", "global") and children:
            return _serialize(children[0])
        if children:  # message/delivery-status: blocks of fields
            return b"\n".join(_serialize(child).rstrip(b"\r\n") + b"\n" for child in children)
    return _payload_bytes(part, walk, label)


def _content_id(part: Message) -> str | None:
    value = part.get("content-id")
    if value is None:
        return None
    return _message_id(str(value))


def _referenced_cids(html: str) -> set[str]:
    found = re.findall(r"""cid:([^"'\s>)]+)""", html, re.IGNORECASE)
    return {unquote(html_lib.unescape(c)).strip("<>").casefold() for c in found}


def _collect_attachments(
    walk: _Walk, html: str, limit: int | None
) -> tuple[list[ParsedAttachment], list[str]]:
    referenced = _referenced_cids(html)
    attachments: list[ParsedAttachment] = []
    oversized: list[str] = []
    for number, (part, index) in enumerate(walk.parts, 1):
        label = f"part {index}"

        def one(part: Message = part, number: int = number, label: str = label) -> None:
            content_type = _content_type(part)
            name = sanitize_filename(_filename(part), content_type, number)
            if content_type == "message/rfc822" and not _filename(part):
                inner = _children(part)
                subject = str(inner[0].get("subject", "")) if inner else ""
                if subject.strip():
                    title = re.sub(r"[/\\]", "_", _decode_header(subject))
                    name = sanitize_filename(title, content_type, number)
            data = _attachment_data(part, walk, label)
            if limit is not None and len(data) > limit:
                oversized.append(f"{name} ({len(data)} bytes)")
                walk.defects.add(
                    f"attachment {name!r} is {len(data)} bytes, over the limit of {limit} bytes;"
                    " not kept (it stays in the raw message)"
                )
                return
            content_id = _content_id(part)
            inline = bool(
                content_id
                and _content_type(part).partition("/")[0] == "image"
                and content_id.casefold() in referenced
            )
            attachments.append(
                ParsedAttachment(
                    filename=name,
                    content_type=content_type,
                    data=data,
                    content_id=content_id,
                    inline=inline,
                )
            )

        _guarded(walk.defects, label, None, one)
    return attachments, oversized
