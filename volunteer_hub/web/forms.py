"""Forms shared by the signed-in areas (public forms live with their blueprint)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from volunteer_hub.models import HamletKind, Role


class LoginForm(FlaskForm):
    """Sign in with email and password."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class HamletForm(FlaskForm):
    """Add a hamlet or residential group to a commune."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(
        _l("Kind"),
        choices=[
            SelectChoice(HamletKind.HAMLET.value, _l("Hamlet (thôn, bản)")),
            SelectChoice(HamletKind.RESIDENTIAL_GROUP.value, _l("Residential group (tổ dân phố)")),
        ],
        default=HamletKind.HAMLET.value,
    )


def _account_phone(_form: FlaskForm, field: Any) -> None:
    """A Vietnamese mobile, the error at the field (services/reference/accounts.py)."""
    from volunteer_hub.services.reference.accounts import AccountError, account_phone

    try:
        account_phone(field.data)
    except AccountError as exc:
        raise ValidationError(str(exc)) from exc


class UserForm(FlaskForm):
    """An admin creates a coordinator, an admin or a partner account."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice(Role.COORDINATOR.value, _l("Coordinator")),
            SelectChoice(Role.ADMIN.value, _l("Admin")),
            SelectChoice(Role.PARTNER.value, _l("Partner app (intake API only)")),
        ],
    )
    password = PasswordField(_l("Password"), validators=[Optional(), Length(min=10, max=200)])
    phone = StringField(
        _l("Mobile phone (optional)"),
        validators=[Optional(), Length(max=32), _account_phone],
    )
    communes = SelectMultipleField(_l("Communes"), coerce=str, validate_choice=True)


class UserEditForm(FlaskForm):
    """An admin changes an account's name, role and communes."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice(Role.COORDINATOR.value, _l("Coordinator")),
            SelectChoice(Role.ADMIN.value, _l("Admin")),
            SelectChoice(Role.PARTNER.value, _l("Partner app (intake API only)")),
        ],
    )
    phone = StringField(
        _l("Mobile phone (optional)"),
        validators=[Optional(), Length(max=32), _account_phone],
    )
    communes = SelectMultipleField(_l("Communes"), coerce=str, validate_choice=True)


class PasswordChangeForm(FlaskForm):
    """Someone signed in replaces their password, proving they know the current one."""

    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10, max=200)])
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two new passwords differ."))],
    )
