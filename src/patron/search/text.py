"""Text as both search backends see it: one tokenizer and one normalization, in Python.

Documents and queries are reduced here to lower-case, accent-free words of letters and digits
before either database sees them, so FTS5's unicode61 and PostgreSQL's `simple` parser are handed
the same words and cannot disagree (an email address is three words on both, "café" is "cafe").
Snippets are built here too: the document text is escaped first, then matches are wrapped.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import cache

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Letters and digits; underscore and everything else separate words on both backends.
WORD = re.compile(r"[^\W_]+")
# A query longer than this many distinct words keeps its first ones.
MAX_QUERY_TERMS = 12
# Words around the first match that a snippet shows.
SNIPPET_WORDS_BEFORE = 8
SNIPPET_WORDS = 32


def normalize(text: str) -> str:
    """Fold case and strip diacritics: "Café Ørsted" → "cafe ørsted"."""
    if text.isascii():  # no diacritics, nothing to compose: the same result, much sooner
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = decomposed.translate(_combining())
    return unicodedata.normalize("NFKC", stripped.casefold())


@cache
def _combining() -> dict[int, None]:
    """A `str.translate` table that drops every combining character."""
    return {code: None for code in range(sys.maxunicode + 1) if unicodedata.combining(chr(code))}


def words(text: str) -> list[str]:
    """The normalized words of a text, in order, repeats kept."""
    return WORD.findall(normalize(text))


def index_terms(*texts: str) -> str:
    """The distinct words of some texts, space-separated with a space at each end.

    The padding lets `LIKE '% word %'` (and `'% word%'` for a prefix) find whole words on
    SQLite and PostgreSQL alike; that is how the score is computed (see `queries`).
    """
    seen = dict.fromkeys(word for text in texts for word in words(text))
    return f" {' '.join(seen)} " if seen else ""


@dataclass(frozen=True)
class Terms:
    """A user's query as words: every word must match; the last one also as a prefix."""

    words: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Terms:
        return cls(tuple(dict.fromkeys(words(text)))[:MAX_QUERY_TERMS])

    def __bool__(self) -> bool:
        return bool(self.words)

    @property
    def exact(self) -> tuple[str, ...]:
        return self.words[:-1]

    @property
    def prefix(self) -> str:
        return self.words[-1]

    def matches(self, word: str) -> bool:
        """Does one normalized word of a document match a word of the query?"""
        return word in self.exact or word.startswith(self.prefix)

    def fts5(self, *, title_only: bool = False) -> str:
        """An FTS5 MATCH expression: quoted words, so no input is ever FTS5 syntax; with
        `title_only`, every word must be in the title column."""
        column = "title_terms : " if title_only else ""
        quoted = [f'{column}"{word}"' for word in self.exact]
        return " ".join([*quoted, f'{column}"{self.prefix}"*'])

    def tsquery(self, *, title_only: bool = False) -> str:
        """A `to_tsquery` expression: quoted lexemes joined by &, the last one a prefix; with
        `title_only`, every word must carry the title's weight, A (`search.postgres`)."""
        weight = "A" if title_only else ""
        quoted = [f"'{word}'{':' + weight if weight else ''}" for word in self.exact]
        return " & ".join([*quoted, f"'{self.prefix}':*{weight}"])


def highlight(text: str, terms: Terms, *, whole: bool = False) -> SafeString:
    """Escape `text` and wrap the words that match `terms` in <mark>.

    With `whole=False`, show only a window of SNIPPET_WORDS words around the first match (or
    the start of the text), with an ellipsis where text was cut.
    """
    spans = [match.span() for match in WORD.finditer(text)]
    start, end = 0, len(spans)
    if not whole and spans:
        first = next((i for i, (a, b) in enumerate(spans) if terms and _hit(text[a:b], terms)), 0)
        start = max(0, first - SNIPPET_WORDS_BEFORE)
        end = min(len(spans), start + SNIPPET_WORDS)
    if not spans:
        return mark_safe(escape(text))
    text_start = 0 if start == 0 else spans[start][0]
    text_end = len(text) if end == len(spans) else spans[end - 1][1]
    pieces = ["…"] if text_start > 0 else []
    position = text_start
    for a, b in spans[start:end]:
        pieces.append(escape(text[position:a]))
        word = text[a:b]
        pieces.append(
            f"<mark>{escape(word)}</mark>" if terms and _hit(word, terms) else escape(word)
        )
        position = b
    pieces.append(escape(text[position:text_end]))
    if text_end < len(text):
        pieces.append("…")
    return mark_safe("".join(pieces))


def _hit(word: str, terms: Terms) -> bool:
    # One original word may normalize to several ("ﬁle" → "file" is one; "½" → "1", "2").
    return any(terms.matches(part) for part in WORD.findall(normalize(word)))
