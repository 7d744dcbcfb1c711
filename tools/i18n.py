"""Maintain the translation catalogs: extract, update, fill English, compile.

    python tools/i18n.py update     # after changing user-facing strings
    python tools/i18n.py check      # what the test suite checks: nothing missing or stale

Vietnamese is translated by hand in volunteer_hub/translations/vi/LC_MESSAGES/messages.po.
Source strings (msgids) are English, so the English catalog maps each msgid to itself.
Compiled .mo files are committed, so a fresh install shows Vietnamese with no build step.
"""

from __future__ import annotations

import sys
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "volunteer_hub"
TRANSLATIONS = PACKAGE / "translations"
LOCALES = ("vi", "en")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
METHOD_MAP = [("**.py", "python"), ("templates/**.html", "jinja2")]


def extract() -> Catalog:
    """Return every translatable string of the app's code and templates."""
    catalog = Catalog(project="volunteer_hub", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(PACKAGE), method_map=METHOD_MAP, keywords=KEYWORDS, strip_comment_tags=True
    ):
        catalog.add(
            message,
            None,
            [(f"volunteer_hub/{filename}", lineno)],
            auto_comments=comments,
            context=context,
        )
    return catalog


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def load(locale: str) -> Catalog:
    path = po_path(locale)
    if not path.exists():
        return Catalog(locale=locale, project="volunteer_hub", charset="utf-8")
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def mo_bytes(catalog: Catalog) -> bytes:
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def translations(catalog: Catalog) -> dict[object, object]:
    """Map each translated msgid to its string, leaving out the header.

    The header names Babel's version and the extraction date, so comparing compiled bytes
    would call a catalog stale whenever Babel is upgraded; the translations are what matter.
    """
    return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}


def compiled(path: Path) -> dict[object, object]:
    """Return the translations a compiled .mo file holds."""
    with path.open("rb") as handle:
        return translations(read_mo(handle))


def update() -> None:
    template = extract()
    for locale in LOCALES:
        catalog = load(locale)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if locale == "en":
            for message in catalog:
                if message.id and not message.string:
                    message.string = message.id
        path = po_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, sort_output=False, omit_header=False)
        path.with_suffix(".mo").write_bytes(mo_bytes(catalog))
        missing = [m.id for m in catalog if m.id and not m.string]
        print(f"{locale}: {len(catalog)} messages, {len(missing)} untranslated")


def problems() -> list[str]:
    """Return what is wrong with the catalogs (empty when all is well)."""
    found: list[str] = []
    wanted = {m.id for m in extract() if m.id}
    for locale in LOCALES:
        catalog = load(locale)
        have = {m.id: m for m in catalog if m.id}
        for msgid in sorted(wanted - set(have), key=str):
            found.append(f"{locale}: not in the catalog: {msgid!r}")
        for msgid, message in have.items():
            if not message.string or (
                isinstance(message.string, tuple) and not all(message.string)
            ):
                found.append(f"{locale}: untranslated: {msgid!r}")
            if message.fuzzy:
                found.append(f"{locale}: fuzzy: {msgid!r}")
        mo = po_path(locale).with_suffix(".mo")
        if not mo.exists() or compiled(mo) != translations(catalog):
            found.append(f"{locale}: messages.mo is stale: run python tools/i18n.py update")
    return found


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "update":
        update()
    else:
        issues = problems()
        print("\n".join(issues) or "catalogs are complete")
        sys.exit(1 if issues else 0)
