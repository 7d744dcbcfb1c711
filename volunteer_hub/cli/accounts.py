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


def _account_or_fail(email: str):  # type: ignore[no-untyped-def]
    from volunteer_hub.extensions import db
    from volunteer_hub.services.reference.accounts import find_user

    user = find_user(db.session, email)
    if user is None:
        raise click.ClickException(f"no account with the email {email}")
    return user


def _set_active(email: str, active: bool) -> None:
    from volunteer_hub.extensions import db
    from volunteer_hub.services.reference.accounts import AccountError, set_active

    user = _account_or_fail(email)
    try:
        changed = set_active(db.session, user, active)
    except AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    state = "active" if active else "deactivated"
    click.echo(f"{user.email} {state}" if changed else f"{user.email} was already {state}")


@users_group.command("deactivate")
@click.argument("email")
@with_appcontext
def users_deactivate(email: str) -> None:
    """Deactivate an account: its sessions and API tokens stop on their next request."""
    _set_active(email, False)


@users_group.command("activate")
@click.argument("email")
@with_appcontext
def users_activate(email: str) -> None:
    """Let a deactivated account sign in (and its unrevoked tokens work) again."""
    _set_active(email, True)


@users_group.command("set-password")
@click.argument("email")
@click.option("--password", help="The new password (prompted when absent).")
@with_appcontext
def users_set_password(email: str, password: str | None) -> None:
    """Set an account's password and sign it out everywhere."""
    from volunteer_hub.extensions import db
    from volunteer_hub.services.reference.accounts import AccountError, set_password

    user = _account_or_fail(email)
    if not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        set_password(db.session, user, password)
    except AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"password of {user.email} changed; every session of it is signed out")


def _when(value) -> str:  # type: ignore[no-untyped-def]
    return value.strftime("%Y-%m-%dT%H:%MZ") if value is not None else "-"


@tokens_group.command("list")
@click.option("--user", "email", help="Only the tokens of this account.")
@with_appcontext
def tokens_list(email: str | None) -> None:
    """One line per token: id, name, user, created, last used, expires (and revoked)."""
    from volunteer_hub.extensions import db
    from volunteer_hub.services.reference.accounts import list_api_tokens

    user = _account_or_fail(email) if email else None
    for token in list_api_tokens(db.session, user):
        fields = [
            str(token.id),
            token.name,
            token.user.email,
            _when(token.created_at),
            _when(token.last_used_at),
            _when(token.expires_at),
        ]
        if token.revoked_at is not None:
            fields.append(f"revoked {_when(token.revoked_at)}")
        click.echo("\t".join(fields))


@tokens_group.command("revoke")
@click.argument("token_id", type=click.IntRange(1, 2**31 - 1))
@with_appcontext
def tokens_revoke(token_id: int) -> None:
    """Revoke a token by its id (from `api-tokens list`): its next call is refused."""
    from volunteer_hub.extensions import db
    from volunteer_hub.models import ApiToken
    from volunteer_hub.services.reference.accounts import revoke_api_token

    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise click.ClickException(f"no API token with the id {token_id}")
    changed = revoke_api_token(db.session, token)
    db.session.commit()
    click.echo(f"token {token.id} revoked" if changed else f"token {token.id} was already revoked")
