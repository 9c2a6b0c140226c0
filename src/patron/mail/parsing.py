"""Turn raw RFC 822 bytes into a `ParsedMail` (pure functions: no database, no models).

The ingest stores the raw bytes first (DESIGN invariant 1) and then calls `parse`, which never
raises: whatever the bytes, it returns a `ParsedMail` and lists what it could not read in
`defects`; `is_unprocessable` says when nothing usable is left. Parsing is the standard library's
`email` package with `policy.default`; this module only adds what it leaves to the caller:
charset fallbacks, choosing the body among the alternatives, naming attachments, sanitizing HTML
with remote images blocked (DESIGN invariant 3), auto-reply and bounce detection, and the subject
normalization that threading uses.
"""

from __future__ import annotations

import base64
import codecs
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.headerregistry import AddressHeader
from email.message import Message
from email.parser import BytesParser, HeaderParser
from functools import partial
from html.parser import HTMLParser
from urllib.parse import unquote

import nh3

from patron.core.html import ALLOWED_ATTRIBUTES, ALLOWED_TAGS

__all__ = [
    "Address",
    "Bounce",
    "ParsedAttachment",
    "ParsedMail",
    "allow_remote_images",
    "decode_bytes",
    "html_to_text",
    "is_out_of_office_subject",
    "is_unprocessable",
    "normalize_subject",
    "parse",
    "rewrite_cid",
    "sanitize_filename",
    "sanitize_mail_html",
    "ticket_tag",
]


@dataclass(frozen=True)
class Address:
    name: str  # display name, decoded ("" if none)
    address: str  # addr-spec, lower-cased domain; "" if unparseable


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str  # decoded, sanitized for storage; made up when missing
    content_type: str  # e.g. "application/pdf"
    data: bytes
    content_id: str | None  # without <>, for cid: references
    inline: bool  # an inline image referenced by the HTML body


@dataclass(frozen=True)
class Bounce:
    original_message_id: str | None
    recipient: str | None
    status: str | None  # e.g. "5.1.1"
    action: str | None  # failed / delayed / ...
    diagnostic: str  # the remote server's answer, human-readable
    recipients: tuple[str, ...] = ()  # every recipient the report names, in order


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


# --------------------------------------------------------------------------------------------
# Charsets

_CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ks_c_5601-1989": "cp949",
    "euc-kr": "cp949",
    "x-sjis": "cp932",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_2",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-user-defined": "cp1252",
    "iso-8859-1": "cp1252",  # what senders mean by it (as every browser does)
    "latin1": "cp1252",
    "us-ascii": "ascii",
}
# Codecs that are not character sets a mail could honestly declare.
_REFUSED_CODECS = {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"}


def _codec(charset: str) -> str | None:
    name = charset.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    if info.name in _REFUSED_CODECS:
        return None
    return info.name


def decode_bytes(
    data: bytes, charset: str | None, defects: _Defects | None = None, where: str = "body"
) -> str:
    """Decode with the declared charset, then utf-8, then cp1252, then latin-1 (never fails)."""
    declared = _codec(charset) if charset else None
    if charset and declared is None and defects is not None:
        defects.add(f"{where}: unknown charset {charset.strip()[:60]!r}")
    candidates = [c for c in (declared, "utf-8", "cp1252") if c]
    if declared == "cp1252" and charset and "1252" not in charset:
        candidates.insert(1, "latin-1")  # declared latin-1 with bytes cp1252 leaves undefined
    if declared is None and not charset and data.isascii():
        candidates = ["ascii"]
    for index, codec_name in enumerate(candidates):
        try:
            text = data.decode(codec_name)
        except (UnicodeError, LookupError):
            continue
        if index and charset and declared and codec_name != "latin-1" and defects is not None:
            defects.add(f"{where}: not valid {charset.strip()[:60]}; decoded as {codec_name}")
        return _clean(text.replace("\r\n", "\n").replace("\r", "\n"))
    if defects is not None:
        defects.add(f"{where}: undecodable text; decoded as latin-1")
    return _clean(data.decode("latin-1").replace("\r\n", "\n").replace("\r", "\n"))


def _raw_header_text(value: str, hint: str | None = None) -> str:
    """A raw header value (surrogate-escaped 8-bit bytes) as text.

    Unencoded 8-bit headers are utf-8 (RFC 6532) or, in older mail, the charset of the body
    (`hint`); cp1252 and latin-1 come last.
    """
    value = re.sub(r"\r?\n(?=[ \t])", "", value).replace("\r", "").replace("\n", "")
    if not _SURROGATES.search(value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    hinted = _codec(hint) if hint else None
    for codec_name in ("utf-8", hinted, "cp1252"):
        if codec_name is None:
            continue
        try:
            return data.decode(codec_name)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("latin-1")


_UNSTRUCTURED = "x-patron-unstructured"


def _decode_header(value: str, hint: str | None = None) -> str:
    """RFC 2047 decoding, lenient (broken encoded words stay as they were)."""
    text = _raw_header_text(value, hint)
    if "=?" in text:
        text = str(email.policy.default.header_factory(_UNSTRUCTURED, text))
    return _clean(text)


# --------------------------------------------------------------------------------------------
# Headers: addresses, ids, dates

_MSG_ID = re.compile(r"<([^<>]*)>")


def _ids(value: str) -> tuple[str, ...]:
    found = [m.strip() for m in _MSG_ID.findall(value)]
    if not found:
        found = [token.strip("<>,;") for token in value.split() if "@" in token]
    result: dict[str, None] = {}
    for item in found:
        item = _clean(item).strip()
        if item and not any(ch.isspace() for ch in item):
            result.setdefault(item, None)
    return tuple(result)


def _message_id(value: str | None) -> str | None:
    if value is None:
        return None
    ids = _ids(value)
    if ids:
        return ids[0]
    bare = _clean(value).strip().strip("<>").strip()
    if not bare or any(ch.isspace() or ch in "<>" for ch in bare):
        return None
    return bare


def _address(name: str, username: str, domain: str) -> Address:
    name = _fold(name)
    username = _clean(username).strip()
    domain = _clean(domain).strip().lower().rstrip(".")
    if not username or not domain or any(ch.isspace() or ch in "<>()," for ch in domain):
        return Address(name=name, address="")
    if any(ch.isspace() or ch in "<>" for ch in username):
        return Address(name=name, address="")
    return Address(name=name, address=f"{username}@{domain}")


_LOOSE_ADDRESS = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")


def _addresses(
    value: str, defects: _Defects, label: str, hint: str | None = None
) -> tuple[Address, ...]:
    text = _raw_header_text(value, hint)
    result: list[Address] = []
    try:
        header = email.policy.default.header_factory(label, text)
        if isinstance(header, AddressHeader):
            for item in header.addresses:
                result.append(_address(item.display_name, item.username, item.domain))
    except Exception:  # the registry's parser has known crashes; the fallbacks below remain
        result = []
    if not result or not any(a.address for a in result):
        # The registry gave up; the older, more forgiving parser often still finds the address.
        fallback = [
            _address(*_split_addr(name, spec))
            for name, spec in email.utils.getaddresses([_decode_header(text)])
            if spec or name
        ]
        if any(a.address for a in fallback):
            result = fallback
    if not any(a.address for a in result):
        # "Big Bug bb@bug.com": no brackets, but an address is plainly there.
        loose = _LOOSE_ADDRESS.search(_decode_header(text))
        if loose:
            spec = loose.group(0)
            rest = _decode_header(text).replace(spec, " ").strip(" \"'<>()")
            result = [_address(rest, *spec.rsplit("@", 1))]
    if not result:
        defects.add(f"header {label}: no address found")
    elif not all(a.address for a in result):
        defects.add(f"header {label}: unparseable address")
    if not any(a.name for a in result):
        # "user@example.com (Full Name)": the comment is the only name there is.
        named = dict(
            (spec.lower(), name) for name, spec in email.utils.getaddresses([text]) if name
        )
        result = [
            Address(name=_fold(named.get(a.address.lower(), "")), address=a.address)
            if a.address
            else a
            for a in result
        ]
    return tuple(result)


def _split_addr(name: str, spec: str) -> tuple[str, str, str]:
    local, _, domain = spec.rpartition("@")
    return name, local, domain


def _date(value: str | None, defects: _Defects) -> datetime | None:
    if value is None:
        return None
    header = email.policy.default.header_factory("date", _raw_header_text(value))
    parsed = getattr(header, "datetime", None)
    if not isinstance(parsed, datetime):
        defects.add(f"header Date: unparseable date {_fold(value)[:80]!r}")
        return None
    if parsed.tzinfo is None:  # "-0000": the zone is unknown; RFC 5322 says read it as UTC
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        defects.add(f"header Date: date out of range {_fold(value)[:80]!r}")
        return None


# --------------------------------------------------------------------------------------------
# Auto-replies

_OOO_SUBJECTS = (
    # English
    "out of office", "out of the office", "automatic reply", "auto reply", "autoreply",
    "auto-reply", "auto response", "autoresponse", "auto-response", "away from the office",
    "away from office", "on vacation", "vacation reply", "annual leave",
    # German
    "abwesenheitsnotiz", "automatische antwort", "abwesend", "nicht im buro",
    "automatische abwesenheitsnotiz", "urlaubsabwesenheit",
    # French
    "reponse automatique", "absence du bureau", "absent du bureau", "message d'absence",
    "absence prolongee", "en conge",
    # Spanish
    "respuesta automatica", "fuera de la oficina", "fuera de oficina", "ausencia de la oficina",
    "respuesta de ausencia",
    # Dutch
    "automatisch antwoord", "afwezig", "niet aanwezig", "buiten kantoor", "afwezigheidsbericht",
    "automatisch bericht",
    # Portuguese
    "resposta automatica", "fora do escritorio", "ausente do escritorio", "ausencia temporaria",
    "mensagem de ausencia",
    # Indonesian
    "balasan otomatis", "di luar kantor", "sedang cuti", "pesan otomatis",
    # Italian, Scandinavian, Finnish, Polish
    "risposta automatica", "fuori sede", "fuori ufficio", "autosvar", "frankvaerende",
    "automaattinen vastaus", "automatyczna odpowiedz",
)  # fmt: skip
_OOO_PATTERN = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)*(?:"
    + "|".join(re.escape(s) for s in sorted(_OOO_SUBJECTS, key=len, reverse=True))
    + r")(?![a-z])"
)


def _fold_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("ø", "o")


def is_out_of_office_subject(subject: str) -> bool:
    """True for the subject forms auto-responders use ("Automatic reply: …", "Abwesend: …")."""
    return bool(_OOO_PATTERN.match(_fold_accents(subject)))


def _auto_submitted(first: dict[str, str], subject: str) -> str | None:
    value = first.get("auto-submitted")
    if value is not None and _fold(value).lower() not in ("", "no"):
        return f"Auto-Submitted: {_fold(value)}"
    value = first.get("precedence")
    if value is not None and _fold(value).lower() in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {_fold(value).lower()}"
    for name, label in (
        ("x-autoreply", "X-Autoreply"),
        ("x-autorespond", "X-Autorespond"),
        ("x-auto-response-suppress", "X-Auto-Response-Suppress"),
        ("x-autogenerated", "X-Autogenerated"),
    ):
        value = first.get(name)
        if value is not None and _fold(value).lower() not in ("", "no", "none", "false"):
            return f"{label}: {_fold(value)}"
    if is_out_of_office_subject(subject):
        return f"out-of-office subject: {subject[:80]}"
    return None


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


# --------------------------------------------------------------------------------------------
# HTML

MAIL_TAGS = ALLOWED_TAGS | {
    "caption", "cite", "col", "colgroup", "dd", "del", "dl", "dt", "ins", "mark", "q", "small",
    "wbr",
}  # fmt: skip
_MAIL_ATTRIBUTES = {tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()}
_CLEAN_CONTENT = {"script", "style", "title", "noscript", "template", "xml", "head"}
_URL_SCHEMES = {"http", "https", "mailto", "cid", "data"}
_DATA_IMAGE = re.compile(r"^\s*data:image/(?:png|gif|jpeg|jpg|webp|bmp);base64,", re.IGNORECASE)
_SAFE_HREF = re.compile(r"^\s*(?:https?:|mailto:|#)", re.IGNORECASE)
_IMG_TAG = re.compile(r"<img\b([^>]*)>")
_ATTR = re.compile(r'\s([^\s=/>]+)(?:="([^"]*)")?')
_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)


def _mail_attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    # data: only as an image of a raster type; links only to the outside world or mail.
    if value.lstrip().lower().startswith("data:"):
        return value if tag == "img" and attribute == "src" and _DATA_IMAGE.match(value) else None
    if tag == "a" and attribute == "href" and not _SAFE_HREF.match(value):
        return None
    return value


def _nh3(html: str, extra_img_attrs: frozenset[str] = frozenset()) -> str:
    attributes = dict(_MAIL_ATTRIBUTES)
    attributes["img"] = attributes.get("img", set()) | set(extra_img_attrs)
    return nh3.clean(
        _clean(html),
        tags=MAIL_TAGS,
        clean_content_tags=_CLEAN_CONTENT,
        attributes=attributes,
        attribute_filter=_mail_attribute_filter,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def _rewrite_img(html: str, rewrite: Callable[[list[tuple[str, str | None]]], str]) -> str:
    """Apply `rewrite` to the attribute list of every <img> of nh3's (well-formed) output."""

    def one(match: re.Match[str]) -> str:
        attrs = [(m.group(1), m.group(2)) for m in _ATTR.finditer(match.group(1))]
        return rewrite(attrs)

    return _IMG_TAG.sub(one, html)


def _img(attrs: list[tuple[str, str | None]]) -> str:
    parts = [name if value is None else f'{name}="{value}"' for name, value in attrs]
    return "<img" + "".join(" " + p for p in parts) + ">"


def _block_remote(attrs: list[tuple[str, str | None]]) -> str:
    kept: list[tuple[str, str | None]] = []
    for name, value in attrs:
        if name == "src" and value is not None:
            url = html_lib.unescape(value).strip()
            if url.lower().startswith(("cid:", "data:")):
                kept.append((name, value))
            elif _REMOTE.match(url):
                if url.startswith("//"):
                    url = "https:" + url
                kept.append(("data-remote-src", html_lib.escape(url, quote=True)))
            # anything else (a relative path) would load from Patron itself: dropped
            continue
        kept.append((name, value))
    return _img(kept)


def sanitize_mail_html(html: str) -> str:
    """Sanitize a mail's HTML; remote images keep their URL only in `data-remote-src`."""
    if not html or not html.strip():
        return ""
    return _rewrite_img(_nh3(html), _block_remote)


def allow_remote_images(html: str) -> str:
    """Restore the remote images `sanitize_mail_html` blocked (http/https only), still sanitized."""
    if not html:
        return ""

    def restore(attrs: list[tuple[str, str | None]]) -> str:
        remote = next((v for n, v in attrs if n == "data-remote-src" and v), None)
        url = html_lib.unescape(remote).strip() if remote else ""
        if not re.match(r"^https?://", url, re.IGNORECASE):
            return _img([(n, v) for n, v in attrs if n != "data-remote-src"])
        kept = [(n, v) for n, v in attrs if n not in ("src", "data-remote-src")]
        return _img([("src", html_lib.escape(url, quote=True)), *kept])

    normalized = _nh3(html, frozenset({"data-remote-src"}))
    return _nh3(_rewrite_img(normalized, restore))


def rewrite_cid(html: str, urls: dict[str, str]) -> str:
    """Point `<img src="cid:…">` at the stored inline images (`urls` maps Content-ID → URL).

    Only http(s) URLs and site paths ("/attachments/…") are used; an id without a URL is left.
    """
    if not html or not urls:
        return html
    by_id = {key.strip().strip("<>"): url for key, url in urls.items()}
    folded = {key.casefold(): url for key, url in by_id.items()}

    def target(cid: str) -> str | None:
        for key in (cid, unquote(cid)):
            if key in by_id:
                return by_id[key]
        return folded.get(unquote(cid).casefold())

    def rewrite(attrs: list[tuple[str, str | None]]) -> str:
        result: list[tuple[str, str | None]] = []
        for name, value in attrs:
            if name == "src" and value is not None:
                url = html_lib.unescape(value).strip()
                if url.lower().startswith("cid:"):
                    new = target(url[4:].strip().strip("<>"))
                    if new is not None and re.match(r"^(?:https?://|/(?!/))", new, re.I):
                        value = html_lib.escape(new, quote=True)
            result.append((name, value))
        return _img(result)

    return _rewrite_img(html, rewrite)


_PARAGRAPH_TAGS = {
    "blockquote", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ol", "p", "pre", "table", "ul",
}  # fmt: skip
_LINE_TAGS = {"address", "caption", "dd", "div", "dt", "li", "tr"}
_BLANK = re.compile(r"^[> ]*$")


class _TextExtractor(HTMLParser):
    """HTML to readable text: blocks on their own lines, quotes prefixed with "> "."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.quote = 0
        self.pre = 0
        self.skip = 0

    def flush(self, paragraph: bool = False) -> None:
        """End the current line (if any text); a paragraph also leaves a blank line."""
        text = "".join(self.current)
        self.current = []
        if not self.pre:
            text = " ".join(text.split())
        prefix = "> " * self.quote
        if text:
            self.lines.extend((prefix + line).rstrip() for line in text.split("\n"))
        if paragraph:
            self.lines.append(prefix.rstrip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _CLEAN_CONTENT:
            self.skip += 1
        elif tag == "br":
            text = "".join(self.current)
            self.current = []
            line = text if self.pre else " ".join(text.split())
            self.lines.append(("> " * self.quote + line).rstrip())
        elif tag in ("td", "th"):
            self.current.append(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.current.append(f"[{alt}]")
        elif tag in _PARAGRAPH_TAGS or tag in _LINE_TAGS:
            self.flush(tag in _PARAGRAPH_TAGS)
            if tag == "blockquote":
                self.quote += 1
            elif tag == "pre":
                self.pre += 1
            elif tag == "li":
                self.current.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _CLEAN_CONTENT:
            self.skip = max(0, self.skip - 1)
        elif tag in _PARAGRAPH_TAGS or tag in _LINE_TAGS:
            self.flush(tag in _PARAGRAPH_TAGS)
            if tag == "blockquote":
                self.quote = max(0, self.quote - 1)
            elif tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.current.append(data)


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML body (for mails that come without a text/plain part)."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # html.parser on a malformed marked section
        pass
    parser.flush()
    lines: list[str] = []
    for line in parser.lines:
        blank = bool(_BLANK.match(line))
        if blank and (not lines or _BLANK.match(lines[-1])):
            continue  # no leading blank line, no two in a row
        lines.append(line)
    while lines and _BLANK.match(lines[-1]):
        lines.pop()
    return _clean("\n".join(lines))


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


# --------------------------------------------------------------------------------------------
# Bounces (RFC 3464)

_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


def _strip_type(value: str) -> str:
    """ "rfc822; user@example.com" → "user@example.com"; "smtp; 550 …" → "550 …"."""
    value = _fold(_decode_header(value))
    if ";" in value:
        kind, _, rest = value.partition(";")
        if kind.strip() and " " not in kind.strip():
            value = rest.strip()
    return value.strip("<> ") if "@" in value and " " not in value else value


def _bounce(report: Message, defects: _Defects) -> Bounce | None:
    report_type = str(report.get_param("report-type") or "").lower()
    children = _children(report)
    status_parts = [
        c
        for c in children
        if _content_type(c) in ("message/delivery-status", "message/global-delivery-status")
    ]
    if report_type not in ("delivery-status", "") or (not status_parts and report_type == ""):
        return None
    recipients: list[dict[str, str]] = []
    for status_part in status_parts:
        for block in _children(status_part):
            fields: dict[str, str] = {}
            for name, value in block.raw_items():
                fields.setdefault(name.strip().lower(), _raw_header_text(str(value)))
            if {"final-recipient", "original-recipient", "action", "status"} & set(fields):
                recipients.append(fields)
    chosen: dict[str, str] = {}
    for wanted in ("failed", "delayed", None):
        chosen = next(
            (
                r
                for r in recipients
                if wanted is None or _fold(r.get("action", "")).lower().startswith(wanted)
            ),
            {},
        )
        if chosen:
            break
    recipient_value = chosen.get("final-recipient") or chosen.get("original-recipient")
    status_match = _STATUS.search(chosen.get("status", ""))
    action = _fold(chosen.get("action", "")).lower().split(" ")[0] or None
    diagnostic = _strip_type(chosen["diagnostic-code"]) if "diagnostic-code" in chosen else ""
    if not diagnostic:
        notice = next((c for c in children if _content_type(c) == "text/plain"), None)
        if notice is not None:
            text = _text_of(notice, _Walk(defects=defects), "bounce notice")
            diagnostic = "\n".join(line.rstrip() for line in text.strip().splitlines())[:2000]
    if not diagnostic:
        # Some servers put their explanation in a delivery-status part of its own.
        for status_part in status_parts:
            blocks = _children(status_part)
            if blocks and not any(
                {"final-recipient", "action", "status"} & {k.lower() for k in b} for b in blocks
            ):
                diagnostic = _fold(
                    _attachment_data(status_part, _Walk(defects), "")[:2000].decode(
                        "utf-8", "replace"
                    )
                )
                break
    original_id: str | None = None
    for child in children:
        if _content_type(child) == "text/rfc822-headers":
            text = _text_of(child, _Walk(defects=defects), "returned headers")
            headers = HeaderParser(policy=email.policy.compat32).parsestr(text.lstrip())
            original_id = _message_id(headers.get("message-id"))
        elif _content_type(child) in ("message/rfc822", "message/global"):
            inner = _children(child)
            if inner:
                original_id = _message_id(str(inner[0].get("message-id", "")) or None)
        if original_id:
            break
    named = (
        _strip_type(r.get("final-recipient") or r.get("original-recipient") or "")
        for r in recipients
    )
    all_recipients = tuple(dict.fromkeys(r for r in named if r))
    return Bounce(
        original_message_id=original_id,
        recipient=_strip_type(recipient_value) if recipient_value else None,
        status=status_match.group(1) if status_match else None,
        action=action,
        diagnostic=diagnostic,
        recipients=all_recipients,
    )


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
        message = BytesParser(policy=email.policy.default).parsebytes(data, headersonly=True)
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
    message = email.message_from_bytes(stripped, policy=email.policy.default)
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
    )


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
