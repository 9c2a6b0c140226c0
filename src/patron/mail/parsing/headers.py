"""Header values: charsets, RFC 2047 decoding, addresses, message ids and dates.

`decode_bytes` is the charset fallback the bodies use too; raw 8-bit headers are read as
utf-8 (RFC 6532) or in the charset of the body.
"""

from __future__ import annotations

import codecs
import email
import email.errors
import email.policy
import email.utils
import re
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
