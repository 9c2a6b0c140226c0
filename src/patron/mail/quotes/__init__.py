"""Split an email body into the new text and the quoted history + signature.

Agents should read what the customer wrote this time, not the thread quoted beneath it; the
rest is kept (as `Split.quoted`) so nothing a person sent is lost. Pure functions, no I/O.

Plain text is split by a line classifier (`patron.mail.quotes.text`), HTML by the marks mail
clients leave on the quoted part (`patron.mail.quotes.html`). Import from here: `Split`,
`split_text` and `split_html` are the package's interface.

The PyPI parsers were measured first on the same fixtures (benchmarks/reply_accuracy.py):
email-reply-parser 0.5.12, mail-parser-reply 1.36 and quotequail 0.5.4 got 13, 11 and 4 of the 32
Discourse cases right; talon's last release (2017) no longer installs on Python 3.12.
"""

from patron.mail.quotes.html import split_html
from patron.mail.quotes.text import Split, split_text

__all__ = ["Split", "split_html", "split_text"]
