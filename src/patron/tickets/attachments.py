"""Files on messages: the size limit, storage, and inline images (cid:) pointed at their stored
copy. The services that add messages call these; no caller writes an Attachment itself.

Where the web serves a stored file is the caller's knowledge, not this module's: whoever adds a
message with inline images (the mail task) passes an `AttachmentUrl`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile

from patron.core.errors import InvalidInput
from patron.core.html import rewrite_cid
from patron.tickets.models import Attachment, Message

# (ticket number, attachment id) -> the URL an agent's browser loads the file from.
AttachmentUrl = Callable[[int, int], str]


@dataclass(frozen=True)
class Upload:
    """A file on its way in, before it is stored."""

    filename: str
    content_type: str
    content: bytes
    content_id: str | None = None  # an inline image the HTML body shows as cid:<content_id>


def max_attachment_bytes() -> int:
    return int(settings.PATRON_MAX_ATTACHMENT_BYTES)


def check_uploads(uploads: Sequence[Upload]) -> None:
    """Refuse oversize files before anything is written, so nothing is half-created."""
    limit = max_attachment_bytes()
    for upload in uploads:
        if len(upload.content) > limit:
            raise InvalidInput(
                f"{upload.filename} is {len(upload.content) / 1048576:.1f} MB; "
                f"attachments may be at most {limit / 1048576:.0f} MB."
            )


def store_uploads(
    message: Message, uploads: Sequence[Upload], *, attachment_url: AttachmentUrl | None = None
) -> None:
    """Store each file on `message`; the body's cid: images then point at their stored files.

    An inline upload needs `attachment_url` (a caller that forgot it would leave broken images)."""
    if attachment_url is None and any(upload.content_id for upload in uploads):
        raise ValueError("inline uploads need attachment_url to point their cid: images at")
    inline: dict[str, str] = {}
    for upload in uploads:
        digest = hashlib.sha256(upload.content).hexdigest()
        attachment = Attachment(
            message=message,
            filename=upload.filename[:255] or "attachment",
            content_type=upload.content_type or "application/octet-stream",
            size=len(upload.content),
            sha256=digest,
        )
        attachment.file.save(upload.filename, ContentFile(upload.content), save=False)
        attachment.save()
        if upload.content_id and attachment_url is not None:
            inline[upload.content_id] = attachment_url(message.ticket.number, attachment.pk)
    if inline and "cid:" in message.body_html:
        message.body_html = rewrite_cid(message.body_html, inline)
        message.save(update_fields=["body_html"])
