"""Mail HTML: sanitizing with remote images blocked (DESIGN invariant 3), letting them through
on request, pointing cid: images at stored attachments, and readable text from HTML.
"""

from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser

from patron.core.html import CLEAN_CONTENT_TAGS, img_tag, rewrite_img, sanitize_html
from patron.mail.parsing.defects import _clean

# --------------------------------------------------------------------------------------------
# HTML

_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)


def _nh3(html: str, extra_img_attrs: frozenset[str] = frozenset()) -> str:
    return sanitize_html(_clean(html), extra_img_attributes=extra_img_attrs)


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
    return img_tag(kept)


def sanitize_mail_html(html: str) -> str:
    """Sanitize a mail's HTML; remote images keep their URL only in `data-remote-src`."""
    if not html or not html.strip():
        return ""
    return rewrite_img(_nh3(html), _block_remote)


def allow_remote_images(html: str) -> str:
    """Restore the remote images `sanitize_mail_html` blocked (http/https only), still sanitized."""
    if not html:
        return ""

    def restore(attrs: list[tuple[str, str | None]]) -> str:
        remote = next((v for n, v in attrs if n == "data-remote-src" and v), None)
        url = html_lib.unescape(remote).strip() if remote else ""
        if not re.match(r"^https?://", url, re.IGNORECASE):
            return img_tag([(n, v) for n, v in attrs if n != "data-remote-src"])
        kept = [(n, v) for n, v in attrs if n not in ("src", "data-remote-src")]
        return img_tag([("src", html_lib.escape(url, quote=True)), *kept])

    normalized = _nh3(html, frozenset({"data-remote-src"}))
    return _nh3(rewrite_img(normalized, restore))


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
        if tag in CLEAN_CONTENT_TAGS:
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
        if tag in CLEAN_CONTENT_TAGS:
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
