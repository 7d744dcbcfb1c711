"""The app's request class: NUL bytes never reach a view, a service or the database.

PostgreSQL refuses ``\\x00`` in text ("A string literal cannot contain NUL characters"), so a
NUL typed or pasted into any form field, query parameter or JSON string used to end in a 500
wherever a view stored the text without cleaning it first. Dropping NUL here, once, covers
every input: links' notes, SMS templates, opt-out notes, invitation reasons, hamlet names,
the public forms and the API. No one means a NUL byte; nothing else is changed.
"""

from __future__ import annotations

from typing import Any

from flask import Request
from werkzeug.datastructures import MultiDict
from werkzeug.utils import cached_property

NUL = "\x00"


def without_nul(value: Any) -> Any:
    """Return ``value`` (JSON: str, list, dict, number...) with NUL dropped from every string."""
    if isinstance(value, str):
        return value.replace(NUL, "") if NUL in value else value
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    return value


def _multidict_without_nul(data: MultiDict[str, str], cls: type[Any]) -> Any:
    if not any(NUL in key or NUL in item for key, item in data.items(multi=True)):
        return data
    return cls([(without_nul(key), without_nul(item)) for key, item in data.items(multi=True)])


class CleanRequest(Request):
    """Flask's request, with NUL bytes dropped from ``args``, ``form`` and JSON bodies."""

    @cached_property
    def args(self) -> MultiDict[str, str]:
        return _multidict_without_nul(super().args, self.parameter_storage_class)  # type: ignore[no-any-return]

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        super()._load_form_data()
        form = self.__dict__.get("form")
        if form is not None:
            self.__dict__["raw_form"] = form
            self.__dict__["form"] = _multidict_without_nul(form, self.parameter_storage_class)

    @property
    def raw_form(self) -> MultiDict[str, str]:
        """The form as sent, NUL bytes and all: what a webhook's signature was computed over."""
        self._load_form_data()
        return self.__dict__.get("raw_form", self.form)  # type: ignore[no-any-return]

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        return without_nul(super().get_json(force=force, silent=silent, cache=cache))
