"""Sanitize HTML from mail, chat and forms on the way in (DESIGN invariant 3), and point inline
images (`cid:`) at their stored attachments.

`patron.mail.parsing.html` widens this policy for mail (data: images, remote-image blocking); the
tags and attributes allowed are defined here once.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable, Mapping
from urllib.parse import unquote

import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "*": {"dir", "lang"},
}
URL_SCHEMES = {"http", "https", "mailto", "cid"}
_IMG_TAG = re.compile(r"<img\b([^>]*)>")
_ATTR = re.compile(r'\s([^\s=/>]+)(?:="([^"]*)")?')


def sanitize_html(html: str) -> str:
    """Keep formatting, drop scripts, styles, event handlers and javascript: links."""
    if not html:
        return ""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def rewrite_img(html: str, rewrite: Callable[[list[tuple[str, str | None]]], str]) -> str:
    """Apply `rewrite` to the attribute list of every <img> of nh3's (well-formed) output."""

    def one(match: re.Match[str]) -> str:
        attrs = [(m.group(1), m.group(2)) for m in _ATTR.finditer(match.group(1))]
        return rewrite(attrs)

    return _IMG_TAG.sub(one, html)


def img_tag(attrs: list[tuple[str, str | None]]) -> str:
    parts = [name if value is None else f'{name}="{value}"' for name, value in attrs]
    return "<img" + "".join(" " + p for p in parts) + ">"


def rewrite_cid(html: str, urls: Mapping[str, str]) -> str:
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
        return img_tag(result)

    return rewrite_img(html, rewrite)
