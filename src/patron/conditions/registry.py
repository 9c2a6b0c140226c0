"""The one place that names the apps defining condition fields; loaded on first use, so the
engine imports no app and an app (say `sla/`) joins by adding its module here."""

from __future__ import annotations

from importlib import import_module

PROVIDERS = (
    "patron.people.conditions",
    "patron.tickets.conditions",
)
_loaded = False


def load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in PROVIDERS:
        import_module(name).register()
