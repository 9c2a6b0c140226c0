"""Sanitize HTML from mail, chat and forms on the way in (DESIGN invariant 3), and point inline
images (`cid:`) at their stored attachments.

One policy, defined here once; `patron.mail.parsing.html` adds only the blocking of remote images
(a pass over this policy's output), not tags or attributes of its own.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable, Mapping
from urllib.parse import unquote

import nh3

# One policy for every way HTML comes in (mail, the web form, chat, an agent's composer): what
# readable mail needs, nothing that runs, loads from elsewhere or restyles the page.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd",
    "del", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins",
    "li", "mark", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "wbr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "*": {"dir", "lang"},
}
# Dropped with everything inside them, not merely unwrapped.
CLEAN_CONTENT_TAGS = {"script", "style", "title", "noscript", "template", "xml", "head"}
URL_SCHEMES = {"http", "https", "mailto", "cid", "data"}
_DATA_IMAGE = re.compile(r"^\s*data:image/(?:png|gif|jpeg|jpg|webp|bmp);base64,", re.IGNORECASE)
_SAFE_HREF = re.compile(r"^\s*(?:https?:|mailto:|#)", re.IGNORECASE)
_IMG_TAG = re.compile(r"<img\b([^>]*)>")
_ATTR = re.compile(r'\s([^\s=/>]+)(?:="([^"]*)")?')


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    # data: only as an image of a raster type; links only to the outside world or mail.
    if value.lstrip().lower().startswith("data:"):
        return value if tag == "img" and attribute == "src" and _DATA_IMAGE.match(value) else None
    if tag == "a" and attribute == "href" and not _SAFE_HREF.match(value):
        return None
    return value


def sanitize_html(html: str, *, extra_img_attributes: frozenset[str] = frozenset()) -> str:
    """Keep formatting, drop scripts, styles, event handlers and javascript: links.

    `extra_img_attributes` lets a caller keep a marker of its own on images (mail keeps a
    blocked remote image's address in `data-remote-src`)."""
    if not html:
        return ""
    attributes = dict(ALLOWED_ATTRIBUTES)
    attributes["img"] = ALLOWED_ATTRIBUTES["img"] | set(extra_img_attributes)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=CLEAN_CONTENT_TAGS,
        attributes=attributes,
        attribute_filter=_attribute_filter,
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
