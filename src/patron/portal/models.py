"""What the public pages keep: a short memory of web-form submissions, for rate limits."""

from __future__ import annotations

from django.db import models


class WebFormSubmission(models.Model):
    """One accepted web-form request. Only keyed hashes of the address and the IP are kept, and
    rows older than the longest rate-limit window are deleted as new ones arrive."""

    at = models.DateTimeField()
    address_hash = models.CharField(max_length=64)
    ip_hash = models.CharField(max_length=64)

    class Meta:
        indexes = [
            models.Index(fields=["address_hash", "at"]),
            models.Index(fields=["ip_hash", "at"]),
            models.Index(fields=["at"]),
        ]

    def __str__(self) -> str:
        return f"web form submission at {self.at:%Y-%m-%d %H:%M}"
