"""Turn raw RFC 822 bytes into a `ParsedMail` (pure functions: no database, no models).

The ingest stores the raw bytes first (DESIGN invariant 1) and then calls `parse`, which never
raises: whatever the bytes, it returns a `ParsedMail` and lists what it could not read in
`defects`; `is_unprocessable` says when nothing usable is left. Parsing is the standard library's
`email` package with `policy.default`; this package only adds what it leaves to the caller:
charset fallbacks, choosing the body among the alternatives, naming attachments, sanitizing HTML
with remote images blocked (DESIGN invariant 3), auto-reply and bounce detection, and the subject
normalization that threading uses.

The modules, by concern: `message` (the entry points), `headers` (charsets, addresses, ids,
dates), `mime` (the MIME walk, bodies and attachments), `html` (sanitizing, remote and cid:
images, text from HTML), `autoreply` (auto-replies and bounces), `subjects` (threading) and
`defects` (what could not be read, shared text clean-up). Import from here: the names below are
the package's interface.
"""

from patron.core.html import rewrite_cid
from patron.mail.parsing.autoreply import Bounce, is_out_of_office_subject
from patron.mail.parsing.headers import Address, decode_bytes
from patron.mail.parsing.html import (
    allow_remote_images,
    html_to_text,
    sanitize_mail_html,
)
from patron.mail.parsing.message import (
    ParsedMail,
    ReplyParts,
    is_unprocessable,
    parse,
    reply_parts,
)
from patron.mail.parsing.mime import ParsedAttachment, sanitize_filename
from patron.mail.parsing.subjects import normalize_subject, ticket_tag

__all__ = [
    "Address",
    "Bounce",
    "ParsedAttachment",
    "ParsedMail",
    "ReplyParts",
    "allow_remote_images",
    "decode_bytes",
    "html_to_text",
    "is_out_of_office_subject",
    "is_unprocessable",
    "normalize_subject",
    "parse",
    "reply_parts",
    "rewrite_cid",
    "sanitize_filename",
    "sanitize_mail_html",
    "ticket_tag",
]
