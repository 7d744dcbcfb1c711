"""``volunteer-hub users …`` and ``volunteer-hub api-tokens …``: accounts and their tokens."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("users")
def users_group() -> None:
    """Accounts of admins, coordinators and partner apps."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", help="Display name (defaults to the part of the email before @).")
@click.option("--role", type=click.Choice(["admin", "coordinator", "partner"]), required=True)
@click.option("--commune", "communes", multiple=True, help="Commune code; repeat for several.")
@click.option(
    "--password",
    envvar="VH_NEW_USER_PASSWORD",
    help="Password (prompted when absent; partners have none).",
)
@with_appcontext
def users_create(
    email: str, name: str | None, role: str, communes: tuple[str, ...], password: str | None
) -> None:
    """Create an account."""
    from volunteer_hub.extensions import db
    from volunteer_hub.models import Role
    from volunteer_hub.services.reference.accounts import AccountError, create_user

    if role != "partner" and not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(
            db.session,
            email=email,
            name=name or email.split("@")[0],
            role=Role(role),
            password=password,
            commune_codes=list(communes),
        )
    except AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    scope = ", ".join(c.code for c in user.communes) or "all"
    click.echo(f"created {user.role.value} {user.email} (communes: {scope})")


@users_group.command("list")
@with_appcontext
def users_list() -> None:
    """List accounts."""
    from sqlalchemy import select

    from volunteer_hub.extensions import db
    from volunteer_hub.models import User

    for user in db.session.scalars(select(User).order_by(User.email)):
        scope = ",".join(c.code for c in user.communes) or "-"
        state = "active" if user.active else "inactive"
        click.echo(f"{user.email}\t{user.role.value}\t{state}\t{scope}")


@click.group("api-tokens")
def tokens_group() -> None:
    """Bearer tokens for scripts and partner apps."""


@tokens_group.command("create")
@click.option("--user", "email", required=True, help="Email of the account the token acts for.")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@click.option("--days", type=click.IntRange(1, 3650), help="Expire after this many days.")
@with_appcontext
def tokens_create(email: str, name: str, days: int | None) -> None:
    """Create a bearer token; it is printed once, as the last line, and stored hashed."""
    from datetime import timedelta

    from volunteer_hub.extensions import db
    from volunteer_hub.services.reference.accounts import AccountError, create_api_token, find_user

    user = find_user(db.session, email)
    if user is None:
        raise click.ClickException(f"no account with the email {email}")
    try:
        issued = create_api_token(
            db.session, user, name=name, expires_in=timedelta(days=days) if days else None
        )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"token for {user.email} ({user.role.value}), shown once; keep it secret:", err=True)
    click.echo(issued.token)
