"""`patron createadmin`: an admin who can log in, with a generated password when none is given."""

from __future__ import annotations

import argparse
import secrets

from patron.cli.common import EXIT_FAILED, EXIT_OK, fail, out

GENERATED_PASSWORD_BYTES = 15  # 20 URL-safe characters


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def run_createadmin(args: argparse.Namespace) -> int:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from patron.core.errors import InvalidInput
    from patron.people import agents
    from patron.people import services as people

    if get_user_model().objects.filter(username=args.username).exists():
        fail(f"a user called {args.username!r} already exists.")
        return EXIT_FAILED
    try:
        email = people.normalize_email(args.email)
    except InvalidInput as error:
        fail(str(error))
        return EXIT_FAILED
    password = args.password or generate_password()
    if args.password:
        try:
            validate_password(args.password)
        except ValidationError as error:
            fail(" ".join(error.messages))
            return EXIT_FAILED
    agents.create_agent(username=args.username, email=email, password=password, role="admin")
    out.print(f"Created the admin [bold]{args.username}[/bold] ({email}).")
    if not args.password:
        out.print(f"Password: {password}", markup=False, highlight=False)
        out.print("It is shown only this once; keep it somewhere safe.")
    return EXIT_OK
