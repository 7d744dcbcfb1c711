"""Forms shared by the signed-in areas (public forms live with their blueprint)."""

from __future__ import annotations

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
from wtforms.validators import DataRequired, EqualTo, Length, Optional

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
    communes = SelectMultipleField(_l("Communes"), coerce=str, validate_choice=True)


class PasswordChangeForm(FlaskForm):
    """Someone signed in replaces their password, proving they know the current one."""

    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10, max=200)])
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two new passwords differ."))],
    )
