"""The built-in segments every desk starts with. A segment's rule is a rule of the one condition
language (`patron.conditions`) and applies to contacts, organizations and tickets alike."""

BUILTIN_SEGMENTS = (
    {
        "slug": "clients",
        "name": "Clients",
        "description": "People and organizations with a formal agreement and an account manager.",
        "rule": {"all": [{"field": "relationship", "op": "eq", "value": "client"}]},
    },
    {
        "slug": "customers",
        "name": "Customers",
        "description": "Everyone we serve transaction by transaction.",
        "rule": {"all": [{"field": "relationship", "op": "eq", "value": "customer"}]},
    },
)
