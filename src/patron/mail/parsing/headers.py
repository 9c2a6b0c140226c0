"""Header values: charsets, RFC 2047 decoding, addresses, message ids and dates.

`decode_bytes` is the charset fallback the bodies use too; raw 8-bit headers are read as
utf-8 (RFC 6532) or in the charset of the body.
"""

from __future__ import annotations

import base64
import codecs
import email
import email.errors
import email.policy
import email.utils
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import AddressHeader

from patron.mail.parsing.defects import _SURROGATES, _clean, _Defects, _fold


@dataclass(frozen=True)
class Address:
    name: str  # display name, decoded ("" if none)
    address: str  # addr-spec, lower-cased domain; "" if unparseable


# --------------------------------------------------------------------------------------------
# Charsets

# Labels mail carries that the codec registry does not know.
_CHARSET_LABELS = {
    "x-sjis": "shift_jis",
    "windows-31j": "cp932",
    "x-gbk": "gbk",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-user-defined": "cp1252",
}
# The one fallback table, for bodies and headers alike (encoded words, raw 8-bit headers): a
# declared charset, as the codec registry names it, is read as the wider superset the sender's
# software really writes. Bytes valid in the declared charset read the same in its superset.
_SUPERSETS = {
    "ascii": "cp1252",  # after utf-8: 8-bit bytes under a 7-bit label are mostly utf-8
    "iso8859-1": "cp1252",  # what senders mean by it (as every browser does)
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",  # ks_c_5601-1987 too
    "shift_jis": "cp932",
    "big5": "big5hkscs",
    "iso2022_jp": "iso2022_jp_2",
}
# Codecs that are not character sets a mail could honestly declare.
_REFUSED_CODECS = {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"}


def _codec(charset: str) -> str | None:
    """The codec registry's name for a declared charset, or None when it names none."""
    name = charset.strip().strip("\"'").lower()
    name = _CHARSET_LABELS.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    if info.name in _REFUSED_CODECS:
        return None
    return info.name


@dataclass(frozen=True)
class _Decoded:
    text: str
    codec: str  # the codec that read it
    replaced: int  # characters that became U+FFFD
    fallback: bool  # read in a charset that is neither the declared one nor its superset


def _strict(data: bytes, codec_name: str) -> str | None:
    try:
        return data.decode(codec_name)
    except (UnicodeError, LookupError):
        return None


def _decode_text(data: bytes, declared: str | None, alternatives: Sequence[str] = ()) -> _Decoded:
    """Read bytes in the declared charset (a codec name; None: utf-8), whatever they hold.

    The declared charset's superset reads them first, then the declared charset itself and the
    `alternatives`, strictly. When none fits, the superset reads them with replacement
    characters, unless that damages more than it keeps (more characters replaced than non-ASCII
    characters read): then cp1252, and latin-1, which reads anything.
    """
    if declared == "ascii" and data.isascii():
        return _Decoded(data.decode("ascii"), "ascii", 0, False)
    seven_bit = declared in (None, "ascii")
    primary = "utf-8" if seven_bit or declared is None else _SUPERSETS.get(declared, declared)
    own = {primary} if seven_bit else {primary, declared}
    order = [primary, *([] if seven_bit or declared is None else [declared]), *alternatives]
    for codec_name in dict.fromkeys(order):
        text = _strict(data, codec_name)
        if text is not None:
            return _Decoded(text, codec_name, 0, codec_name not in own or declared == "ascii")
    text = data.decode(primary, "replace")
    replaced = text.count("\ufffd")
    kept = sum(1 for ch in text if ord(ch) > 127) - replaced
    if replaced <= kept:
        return _Decoded(text, primary, replaced, declared == "ascii")
    for codec_name in ("cp1252", "latin-1"):  # latin-1 reads any bytes
        text = _strict(data, codec_name)
        if text is not None:
            return _Decoded(text, codec_name, 0, True)
    raise AssertionError("latin-1 decodes every byte")


def _newlines(text: str) -> str:
    return _clean(text.replace("\r\n", "\n").replace("\r", "\n"))


def decode_bytes(
    data: bytes, charset: str | None, defects: _Defects | None = None, where: str = "body"
) -> str:
    """Decode text in its declared charset (never fails); see `_decode_text` for the fallbacks.

    Invalid bytes in otherwise readable text become U+FFFD (and a defect), so one bad byte does
    not turn a whole part into mojibake.
    """
    declared = _codec(charset) if charset else None
    label = charset.strip()[:60] if charset else ""
    if charset and declared is None and defects is not None:
        defects.add(f"{where}: unknown charset {label!r}")
    if declared is None and data.isascii():
        return _newlines(data.decode("ascii"))
    decoded = _decode_text(data, declared, ("utf-8",))
    if defects is not None:
        if decoded.fallback and decoded.codec == "latin-1":
            defects.add(f"{where}: undecodable text; decoded as latin-1")
        elif decoded.fallback and declared:
            defects.add(f"{where}: not valid {label}; decoded as {decoded.codec}")
        if decoded.replaced:
            defects.add(
                f"{where}: {decoded.replaced} invalid byte sequence(s) for"
                f" {label or 'utf-8'} replaced with U+FFFD"
            )
    return _newlines(decoded.text)


def _raw_header_text(value: str, hint: str | None = None) -> str:
    """A raw header value (surrogate-escaped 8-bit bytes) as text.

    Unencoded 8-bit headers are utf-8 (RFC 6532) or, in older mail, the charset of the body
    (`hint`, read through the same superset table as the body); then as `_decode_text` says.
    """
    value = re.sub(r"\r?\n(?=[ \t])", "", value).replace("\r", "").replace("\n", "")
    if not _SURROGATES.search(value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    hinted = _codec(hint) if hint else None
    alternatives = [_SUPERSETS.get(hinted, hinted), hinted] if hinted else []
    return _decode_text(data, "utf-8", alternatives).text


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def _encoded_word_bytes(encoding: str, payload: str) -> bytes | None:
    raw = payload.encode("utf-8", "surrogateescape")
    if encoding in "qQ":
        raw = raw.replace(b"_", b" ")
        return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
    raw = re.sub(rb"[^A-Za-z0-9+/]", b"", raw)
    if len(raw) % 4 == 1:
        return None
    try:
        return base64.b64decode(raw + b"=" * (-len(raw) % 4))
    except ValueError:
        return None


def _decode_encoded_words(text: str, *, reencode: bool = False) -> str:
    """Decode RFC 2047 encoded words with the charset table the bodies use.

    Adjacent words (only whitespace between them) join, and their bytes join per charset before
    decoding, so a character split across two words survives. A broken word stays as written.
    With `reencode`, each run becomes one utf-8 encoded word, for the address parser to read.
    """
    out: list[str] = []
    run: list[tuple[str, bytes]] = []  # (charset, bytes) of the current run
    last = 0

    def flush() -> None:
        decoded = "".join(
            _decode_text(b"".join(chunk for _, chunk in group), _codec(charset), ("utf-8",)).text
            for charset, group in itertools.groupby(run, key=lambda item: item[0])
        )
        decoded = _clean(decoded)
        if reencode:
            decoded = "=?utf-8?b?" + base64.b64encode(decoded.encode()).decode("ascii") + "?="
        out.append(decoded)
        run.clear()

    for match in _ENCODED_WORD.finditer(text):
        data = _encoded_word_bytes(match.group(2), match.group(3))
        gap = text[last : match.start()]
        if run and (data is None or gap.strip()):
            flush()
        if data is None:
            out.append(text[last : match.end()])
        else:
            if not run:
                out.append(gap)
            run.append((match.group(1).split("*", 1)[0].lower(), data))
        last = match.end()
    if run:
        flush()
    out.append(text[last:])
    return "".join(out)


def _decode_header(value: str, hint: str | None = None) -> str:
    """RFC 2047 decoding, lenient (broken encoded words stay as they were)."""
    text = _raw_header_text(value, hint)
    if "=?" in text:
        text = _decode_encoded_words(text)
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


_LOOSE_ADDRESS = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[\w\-]+(?:\.[\w\-]+)+")


def _quote_address_like_names(text: str) -> str:
    """Quote a bare display name that holds an '@' ("alice@example.com <bob@example.com>").

    The header parser reads such a name as the address and loses the one in angle brackets,
    which is the address, always (RFC 5322 section 3.4); quoted, the name is only a name.
    """
    if "@" not in text or "<" not in text:
        return text
    out: list[str] = []
    start = last = 0  # where the current mailbox starts; what is already copied to `out`
    quoted = angle = escaped = False
    comment = 0
    for index, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and (quoted or comment):
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif comment:
            comment += {"(": 1, ")": -1}.get(ch, 0)
        elif angle:
            angle = ch != ">"
        elif ch == '"':
            quoted = True
        elif ch == "(":
            comment = 1
        elif ch in ",;:":
            start = index + 1
        elif ch == "<":
            angle = True
            phrase = text[start:index]
            if "@" in phrase and not any(c in phrase for c in '"()'):
                indent = phrase[: len(phrase) - len(phrase.lstrip())]
                out.append(text[last:start] + indent)
                out.append('"' + phrase.strip().replace("\\", "\\\\") + '" ')
                last = index
    out.append(text[last:])
    return "".join(out)


_ADDRESS_IN_NAME = re.compile(
    r"[^\s<>()\[\]\\,;:\"'@]+@[^\s<>()\[\]\\,;:\"'@]+\.[^\s<>()\[\]\\,;:\"'@.]+"
)
_WHOSE_NAME = {"From": "The sender's name", "Reply-To": "The Reply-To name"}


def _checked_name(item: Address, label: str, defects: _Defects) -> Address:
    """A display name that is an address is no name; another address there is worth a defect."""
    if not item.name or not item.address:
        return item
    found = [m.group(0).rstrip(".") for m in _ADDRESS_IN_NAME.finditer(item.name)]
    other = next((f for f in found if f.lower() != item.address.lower()), None)
    if other is not None:
        whose = _WHOSE_NAME.get(label, f"A name in {label}")
        defects.add(f"{whose} looks like another address ({other}); the address is {item.address}.")
    bare = item.name.strip(" \"'<>")
    if bare.lower().startswith("mailto:"):
        bare = bare[len("mailto:") :]
    if _ADDRESS_IN_NAME.fullmatch(bare):
        return Address(name="", address=item.address)
    return item


def _addresses(
    value: str, defects: _Defects, label: str, hint: str | None = None
) -> tuple[Address, ...]:
    text = _raw_header_text(value, hint)
    if "=?" in text:  # decoded with the table the bodies use, then re-encoded as utf-8
        text = _decode_encoded_words(text, reencode=True)
    result: list[Address] = []
    try:
        header = email.policy.default.header_factory(label, _quote_address_like_names(text))
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
    return tuple(_checked_name(a, label, defects) for a in result)


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
