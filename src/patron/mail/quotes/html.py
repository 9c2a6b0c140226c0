# ruff: noqa: RUF001  (the patterns match other languages' letters and punctuation on purpose)
"""Split an HTML body into the new part and the quoted part, as HTML fragments.

The HTML is read into a small tree; the cut is the first element a mail client marks as quoted,
or unmarked history the plain-text rules of `patron.mail.quotes.text` recognize (an Outlook
header block, an "On … wrote:" line, a forward marker), or a trailing <blockquote>.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from patron.core.html import CLEAN_CONTENT_TAGS
from patron.mail.quotes.text import (
    _DATE_NAMES,
    _FORWARD_RE,
    _FROM_NAMES,
    ATTRIBUTION,
    Split,
    _attribution,
    _classify,
    _header_name,
    _is_device_signature,
)

_VOID = frozenset(
    (
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    )
)
_QUOTE_CLASSES = (
    "gmail_quote",
    "gmail_quote_container",
    "gmail_attr",
    "gmail_signature",
    "moz-cite-prefix",
    "moz-signature",
    "moz-forward-container",
    "outlookmessageheader",
    "protonmail_quote",
    "protonmail_signature_block",
    "zmail_extra",
    "yahoo_quoted",
)
_QUOTE_ID_PARTS = ("divrplyfwdmsg", "yahoo_quoted")  # Outlook prefixes ids with "x_" …
_QUOTE_IDS = ("appendonsend", "signature", "zwchr")
_HEADER_START = re.compile(rf"^\s*(?:{_FROM_NAMES}|{_DATE_NAMES})\s*[:：]", re.I)


class _Element:
    __slots__ = ("attrs", "children", "parent", "tag")

    def __init__(self, tag: str, attrs: list[tuple[str, str | None]], parent: _Element | None):
        self.tag = tag
        self.attrs = attrs
        self.children: list[_Node] = []
        self.parent = parent

    def attr(self, name: str) -> str:
        for key, value in self.attrs:
            if key == name:
                return value or ""
        return ""

    def start_tag(self) -> str:
        parts = [self.tag]
        for key, value in self.attrs:
            parts.append(key if value is None else f'{key}="{_escape(value)}"')
        return "<" + " ".join(parts) + ">"


class _Text:
    __slots__ = ("data", "parent")

    def __init__(self, data: str, parent: _Element):
        self.data = data
        self.parent = parent


_Node = _Element | _Text


class _TreeBuilder(HTMLParser):
    """The tree of a fragment, without what sanitizing drops with its content (scripts, styles,
    the head): the splitter reads mail as it came, and their text is no one's reply."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#root", [], None)
        self.current = self.root
        self.skipping: str | None = None  # the dropped element we are inside
        self.depth = 0  # how deep the same tag nests inside it

    def _skipped(self, tag: str, start: bool) -> bool:
        if self.skipping is None:
            if start and tag in CLEAN_CONTENT_TAGS:
                self.skipping, self.depth = tag, 1
                return True
            return False
        if tag == self.skipping:
            self.depth += 1 if start else -1
            if self.depth == 0:
                self.skipping = None
        elif start and tag == "body" and self.skipping == "head":
            self.skipping = None  # a head never closed ends where the body starts
            return False
        return True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipped(tag, start=True):
            return
        element = _Element(tag, attrs, self.current)
        self.current.children.append(element)
        if tag not in _VOID:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping is None and tag not in CLEAN_CONTENT_TAGS:
            self.current.children.append(_Element(tag, attrs, self.current))

    def handle_endtag(self, tag: str) -> None:
        if self._skipped(tag, start=False):
            return
        node: _Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent  # closes any element left open inside it

    def handle_data(self, data: str) -> None:
        if self.skipping is None:
            self.current.children.append(_Text(data, self.current))


def _escape(value: str, *, quote: bool = True) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace('"', "&quot;") if quote else value


def _walk(node: _Node, limit: int | None = None) -> list[_Node]:
    """The node and its descendants in document order (the first `limit` of them)."""
    out: list[_Node] = []
    stack: list[_Node] = [node]
    while stack and (limit is None or len(out) < limit):
        current = stack.pop()
        out.append(current)
        if isinstance(current, _Element):
            stack.extend(reversed(current.children))
    return out


def _text(node: _Node, limit: int | None = None) -> str:
    """The text of a node, block elements on their own lines; a heuristic only needs the start
    of it, so `limit` bounds the nodes visited (deeply nested mail stays linear)."""
    if isinstance(node, _Text):
        return node.data
    chunks = []
    for n in _walk(node, limit):
        if isinstance(n, _Text):
            chunks.append(n.data)
        elif n.tag in ("br", "p", "div", "tr", "li"):
            chunks.append("\n")
    return "".join(chunks)


def _has_content(node: _Node) -> bool:
    if isinstance(node, _Text):
        return bool(node.data.strip())
    return any(
        (isinstance(n, _Text) and n.data.strip()) or (isinstance(n, _Element) and n.tag == "img")
        for n in _walk(node)
    )


def _marked_as_history(element: _Element) -> bool:
    """Mail clients mark the quoted part (and their signature block) with a class or id."""
    classes = element.attr("class").lower().split()
    ident = element.attr("id").lower()
    if any(c in _QUOTE_CLASSES or c.endswith("yahoo_quoted") for c in classes):
        return True
    return any(part in ident for part in _QUOTE_ID_PARTS) or ident in _QUOTE_IDS


def _looks_like_history(element: _Element) -> bool:
    """Unmarked history: an Outlook header block, an attribution line, a forward marker."""
    if element.tag in ("html", "body", "#root", "blockquote"):
        return False
    text = _text(element, limit=200).strip()
    if not text:
        return False
    first = text.split("\n", 1)[0].strip()
    if _HEADER_START.match(text):
        header_lines = [line for line in text.split("\n")[:12] if _header_name(line)]
        style = element.attr("style").replace(" ", "").lower()
        if len(header_lines) >= 3 or "border-top:solid" in style:
            return True
    if _FORWARD_RE.match(first) or (len(text) <= 400 and _only_attribution(text)):
        return element.tag not in ("a", "b", "strong", "em", "i", "span", "font") or not (
            element.parent and _text(element.parent, limit=200).strip() != text
        )
    return False


def _only_attribution(text: str) -> bool:
    """Is the text nothing but an "On … wrote:" line (wrapped or not)?"""
    lines = [line for line in text.split("\n") if line.strip()]
    return all(kind == ATTRIBUTION for kind in _classify(lines))


def _followed_by_new_text(order: list[_Node], index: int, node: _Element) -> bool:
    """Is there text after node (outside quotes) that is not a signature: an inline reply."""
    inside = set(map(id, _walk(node)))
    for later in order[index + 1 :]:
        if id(later) in inside or not isinstance(later, _Text) or not later.data.strip():
            continue
        ancestor: _Element | None = later.parent
        quoted = False
        while ancestor is not None:
            if ancestor.tag == "blockquote" or _marked_as_history(ancestor):
                quoted = True
                break
            ancestor = ancestor.parent
        if not quoted and not _is_device_signature(later.data.strip()):
            return True
    return False


def _find_cut(root: _Element) -> _Node | None:
    order = _walk(root)
    skip: set[int] = set()
    seen_text = False
    for index, node in enumerate(order):
        if id(node) in skip:
            continue
        if isinstance(node, _Text):
            if node.data.strip() == "--" and seen_text:
                return node
            seen_text = seen_text or bool(node.data.strip())
            continue
        if _marked_as_history(node):
            return node
        if node.tag == "hr" and seen_text:
            following = _next_sibling_element(node)
            if following is not None and (
                _marked_as_history(following) or _looks_like_history(following)
            ):
                return node
        if node.tag == "blockquote":
            if _followed_by_new_text(order, index, node):
                skip.update(map(id, _walk(node)))  # interleaved answers: keep the quote
                continue
            return node
        if _looks_like_history(node):
            return node
    return None


def _next_sibling_element(node: _Element) -> _Element | None:
    if node.parent is None:
        return None
    siblings = node.parent.children
    for sibling in siblings[siblings.index(node) + 1 :]:
        if isinstance(sibling, _Element):
            return sibling
        if sibling.data.strip():
            return None
    return None


def _removable_tail(node: _Node) -> bool:
    """Whitespace, <br>, an attribution or a mobile signature left just before the cut."""
    nodes = _walk(node, limit=400)
    if len(nodes) == 400:
        return False  # far too much to be a signature line
    texts = [n.data for n in nodes if isinstance(n, _Text)]
    if not "".join(texts).strip() and not any(
        isinstance(n, _Element) and n.tag == "img" for n in nodes
    ):
        return True
    lines = [line.strip() for line in _text(node).split("\n") if line.strip()]
    return bool(lines) and all(
        _is_device_signature(line) or line == "--" or _attribution(line) for line in lines
    )


def _trim_tail(children: list[_Node], removed: set[int]) -> None:
    """Move the cut back over what a client writes just above a quote."""
    while True:
        for child in reversed(children):
            if id(child) in removed:
                continue
            if _removable_tail(child):
                removed.add(id(child))
                continue
            if isinstance(child, _Element) and child.tag not in _VOID:
                children = child.children  # look inside the last block that has content
                break
            return
        else:
            return


def _render(root: _Element, removed: set[int], holds: set[int]) -> tuple[str, str]:
    """Serialize the tree into the reply (what is kept, with the wrappers of the cut) and the
    quoted part (the removed subtrees, in document order). Iterative: mail can nest deeply."""
    reply: list[str] = []
    quoted: list[str] = []
    stack: list[_Node | str] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            reply.append(item)  # a closing tag of a wrapper
        elif id(item) in removed:
            _serialize(item, quoted)
        elif id(item) not in holds:
            _serialize(item, reply)
        else:
            assert isinstance(item, _Element)
            if item.tag != "#root":
                reply.append(item.start_tag())
                if item.tag not in _VOID:
                    stack.append(f"</{item.tag}>")
            stack.extend(reversed(item.children))
    return "".join(reply), "".join(quoted)


def _serialize(node: _Node, out: list[str]) -> None:
    stack: list[_Node | str] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, _Text):
            out.append(_escape(item.data, quote=False))
        else:
            if item.tag != "#root":
                out.append(item.start_tag())
                if item.tag in _VOID:
                    continue
                stack.append(f"</{item.tag}>")
            stack.extend(reversed(item.children))


def split_html(html: str) -> Split:
    """Split an HTML body into the new part and the quoted part, as HTML fragments.

    Give it the HTML as it came: sanitizing strips the classes and ids the cut is found by.
    The fragments are not sanitized; `patron.mail.parsing.reply_parts` sanitizes each.

    The history starts at the first element a mail client marks as quoted (Gmail's
    gmail_quote, Outlook's divRplyFwdMsg, Thunderbird's moz-cite-prefix, Yahoo's yahoo_quoted,
    Apple's <blockquote type="cite">), at an unmarked Outlook "From:/Sent:" block or an
    "On … wrote:" line, or at a trailing <blockquote>. A blockquote with an answer after it is
    an inline reply and stays.
    """
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    root = builder.root
    cut = _find_cut(root)
    if cut is None:
        return Split(reply=html.rstrip(), quoted="")
    removed: set[int] = set()
    node: _Node = cut
    while node.parent is not None:  # the cut and everything after it in document order
        siblings = node.parent.children
        for sibling in (
            siblings[siblings.index(node) :]
            if node is cut
            else siblings[siblings.index(node) + 1 :]
        ):
            removed.add(id(sibling))
        node = node.parent
    _trim_tail(root.children, removed)
    holds: set[int] = set()
    for n in _walk(root):
        if id(n) in removed:
            parent = n.parent
            while parent is not None and id(parent) not in holds:
                holds.add(id(parent))
                parent = parent.parent
    reply_html, quoted_html = _render(root, removed, holds)
    if not _has_content_html(reply_html):
        return Split(reply=html.rstrip(), quoted="")
    return Split(reply=reply_html.rstrip(), quoted=quoted_html.strip())


def _has_content_html(fragment: str) -> bool:
    builder = _TreeBuilder()
    builder.feed(fragment)
    builder.close()
    return _has_content(builder.root)
