"""Spreadsheet imports (CSV or Excel) of help requests and volunteers, row by row.

Youth unions collect sign-ups in spreadsheets. Each row goes through the same validation as the
web form; valid rows are imported, invalid ones are reported with their row number and field,
and a row is never half-imported: every check runs before anything of the row is written.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session
from unidecode import unidecode

from volunteer_hub.models import RequestSource, User
from volunteer_hub.services.intake.help_requests import parse_request, submit_request
from volunteer_hub.services.intake.volunteers import parse_volunteer, register_volunteer
from volunteer_hub.services.validation import FieldErrors

log = logging.getLogger(__name__)

MAX_ROWS = 2000
_TRUE = {"1", "x", "yes", "y", "true", "co", "dung", "dong y"}
_FALSE = {"0", "no", "n", "false", "khong", "sai", ""}


class ImportFileError(ValueError):
    """The file cannot be read as a spreadsheet of the expected shape."""


@dataclass(frozen=True)
class Column:
    """A spreadsheet column: its key, what people read as its header, how it is parsed."""

    key: str
    label: Any  # a lazy string, translated when the template is made
    kind: str = "text"  # text | int | float | bool | list | date | skills | away
    example: str = ""
    required: bool = False


REQUEST_COLUMNS = (
    Column(
        "beneficiary_name",
        _l("Name of the person who needs help"),
        example="Nguyễn Thị Lan",
        required=True,
    ),
    Column("age_group", _l("Age group (under_18, 18_59, 60_74, 75_plus)"), example="75_plus"),
    Column(
        "situations",
        _l("Situation (elderly_alone; disability; illness; no_smartphone; remote; low_income)"),
        "list",
        example="elderly_alone",
    ),
    Column(
        "contact_name", _l("Name of the person asking, if someone else"), example="Trần Minh Anh"
    ),
    Column("contact_relation", _l("Relation of the person asking"), example="cháu"),
    Column("phone", _l("Phone"), example="0912345678"),
    Column("reach_note", _l("How to reach them without a phone"), example=""),
    Column("commune", _l("Commune code"), example="19789", required=True),
    Column("hamlet_name", _l("Hamlet or residential group"), example="Tổ dân phố 5"),
    Column("house", _l("House number and alley"), example="12 kiệt 45 Lê Lợi"),
    Column("landmark", _l("Landmark"), example="gần chợ"),
    Column("lat", _l("Latitude"), "float", example=""),
    Column("lng", _l("Longitude"), "float", example=""),
    Column(
        "services",
        _l("Help wanted (service codes separated by ;)"),
        "list",
        example="vneid_activate; scam_safety",
        required=True,
    ),
    Column("people_count", _l("People in the house who need it"), "int", example="1"),
    Column("priority", _l("Priority 1-5 (empty: from the situation)"), "int", example=""),
    Column("notes", _l("Notes for volunteers"), example="Bà nghe kém."),
    Column("consent", _l("Consent given (yes/no)"), "bool", example="yes", required=True),
)

VOLUNTEER_COLUMNS = (
    Column("full_name", _l("Full name"), example="Lê Minh Khôi", required=True),
    Column("phone", _l("Mobile phone"), example="0987654321", required=True),
    Column("kind", _l("Kind (student, ambassador, community)"), example="student", required=True),
    Column("school_or_unit", _l("School or unit"), example="Trường Đại học Khoa học, Đại học Huế"),
    Column(
        "date_of_birth",
        _l("Date of birth (YYYY-MM-DD)"),
        "date",
        example="2004-09-02",
        required=True,
    ),
    Column("guardian_name", _l("Guardian's name (under 18)"), example=""),
    Column("guardian_phone", _l("Guardian's phone (under 18)"), example=""),
    Column("guardian_consent", _l("Guardian agreed (yes/no)"), "bool", example=""),
    Column("commune", _l("Home commune code"), example="19789", required=True),
    Column(
        "travel_mode", _l("Travel (walk, bicycle, motorbike)"), example="motorbike", required=True
    ),
    Column(
        "skills",
        _l("Skills as code:level 1-3, separated by ;"),
        "skills",
        example="vneid:3; epayment:2",
        required=True,
    ),
    Column("languages", _l("Languages (vi; en; km ...)"), "list", example="vi"),
    Column(
        "availability",
        _l("Free (sat_morning; sat_afternoon; sun_morning; sun_afternoon; weekday_evening)"),
        "list",
        example="sat_morning; sun_morning",
        required=True,
    ),
    Column("away", _l("Dates away (YYYY-MM-DD/YYYY-MM-DD; ...)"), "away", example=""),
    Column("max_visits_per_day", _l("Most visits a day"), "int", example="4"),
    Column("consent", _l("Consent given (yes/no)"), "bool", example="yes", required=True),
)


@dataclass
class RowError:
    """What was wrong with one row."""

    row: int
    field: str
    messages: list[str]


@dataclass
class ImportReport:
    """What an import did."""

    imported: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0

    @property
    def failed_rows(self) -> int:
        return len({e.row for e in self.errors})


def _key(text: str) -> str:
    return " ".join(unidecode(str(text)).lower().replace("_", " ").split())


def _header_index(columns: tuple[Column, ...], header: list[str]) -> dict[int, Column]:
    """Map header cells to columns; a header may be the key or its label in either language."""
    from flask_babel import force_locale

    names: dict[str, Column] = {}
    for column in columns:
        names[_key(column.key)] = column
        for locale in ("vi", "en"):
            with force_locale(locale):
                names[_key(str(column.label))] = column
    found: dict[int, Column] = {}
    for index, cell in enumerate(header):
        column = names.get(_key(cell or ""))
        if column is not None:
            found[index] = column
    missing = [c for c in columns if c.required and c not in found.values()]
    if missing:
        raise ImportFileError(
            _(
                "Missing columns: %(names)s. Start from the template.",
                names=", ".join(c.key for c in missing),
            )
        )
    return found


#: Caps that keep one upload from taking a web worker's memory or time. An .xlsx is a zip:
#: its parts are measured before anything is unpacked (a zip's stated sizes are enforced when
#: read: a part longer than it says fails its check), and its sheet is read as a stream.
MAX_UNCOMPRESSED_BYTES = 16 * 1024 * 1024
MAX_COLUMNS = 60
MAX_CELL_CHARS = 2000


def _too_long(row: int, column: int) -> ImportFileError:
    return ImportFileError(
        _(
            "Row %(row)s, column %(column)d holds more than %(n)s characters: "
            "no field is that long. Check the file and try again.",
            row=format_decimal(row),
            column=column,
            n=format_decimal(MAX_CELL_CHARS),
        )
    )


def _checked_row(number: int, cells: list[str]) -> list[str]:
    """Return the row cut to MAX_COLUMNS; refuse a cell longer than MAX_CELL_CHARS."""
    cells = cells[:MAX_COLUMNS]
    for position, cell in enumerate(cells, start=1):
        if len(cell) > MAX_CELL_CHARS:
            raise _too_long(number, position)
    return cells


def _unreadable_excel() -> ImportFileError:
    return ImportFileError(
        _("This Excel file cannot be read.")
        + " "
        + _(
            "It is damaged or was not saved by a spreadsheet program: open it, save it again "
            "as .xlsx (or CSV UTF-8) and try again."
        )
    )


def _read_xlsx(data: bytes) -> list[list[str]]:
    """Stream the first sheet of an .xlsx, within the caps; a broken file is an ImportFileError."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _unreadable_excel() from exc
    if unpacked > MAX_UNCOMPRESSED_BYTES:
        raise ImportFileError(
            _(
                "This Excel file unpacks to %(mb)d MB, more than the %(cap)d MB an import may "
                "take. Keep only the sheet to import (at most %(rows)s rows) and try again.",
                mb=unpacked // (1024 * 1024),
                cap=MAX_UNCOMPRESSED_BYTES // (1024 * 1024),
                rows=format_decimal(MAX_ROWS),
            )
        )
    rows: list[list[str]] = []
    book = None
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        # max_col: a sheet may claim (or lack) a <dimension> of 16,384 columns; read_only
        # pads every row to it, so the reader is told where to stop.
        for values in sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True):
            rows.append(_checked_row(len(rows) + 1, [_cell_text(v) for v in values]))
            if len(rows) > MAX_ROWS + 1:
                break
    except ImportFileError:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a broken file (a bad
        # shared-string index is an IndexError, text in a t="n" cell a ValueError...)
        raise _unreadable_excel() from exc
    finally:
        if book is not None:
            book.close()
    return rows


def read_table(filename: str, data: bytes) -> list[list[str]]:
    """Return the rows of a CSV (UTF-8, comma or semicolon) or Excel (.xlsx) file as text.

    At most MAX_ROWS + 1 rows and MAX_COLUMNS columns are read; a longer cell is refused.
    """
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _read_xlsx(data)
    if name.endswith(".csv") or name.endswith(".txt"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportFileError(_("Save the CSV file as UTF-8 and try again.")) from exc
        sample = text[:4096]
        delimiter = ";" if sample.count(";") > sample.count(",") else ","
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        rows = []
        try:
            for row in reader:
                rows.append(_checked_row(len(rows) + 1, row))
                if len(rows) > MAX_ROWS + 1:
                    break
        except csv.Error as exc:  # a cell over csv's limit (128 KiB), a NUL byte...
            raise ImportFileError(
                _(
                    "Line %(n)s of this CSV file cannot be read: a cell is too long or broken. "
                    "Check it, save the file again as CSV (UTF-8) and try again.",
                    n=format_decimal(reader.line_num),
                )
            ) from exc
        return rows
    raise ImportFileError(_("Upload a .csv or .xlsx file."))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parse_cell(column: Column, raw: str) -> Any:
    text = raw.strip()
    if column.kind == "text":
        return text or None
    if not text:
        return None
    if column.kind == "int":
        return text  # pydantic reports a non-number in the reader's language
    if column.kind == "float":
        return text.replace(",", ".")
    if column.kind == "bool":
        key = _key(text)
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
        return text
    if column.kind == "date":
        return text
    if column.kind == "list":
        return [part.strip() for part in text.replace(",", ";").split(";") if part.strip()]
    if column.kind == "skills":
        skills: dict[str, Any] = {}
        for part in text.replace(",", ";").split(";"):
            code, _sep, level = part.strip().partition(":")
            if code.strip():
                skills[code.strip()] = level.strip() or 2
        return skills
    if column.kind == "away":
        spans = []
        for part in text.split(";"):
            first, _sep, last = part.strip().partition("/")
            if first.strip():
                spans.append({"first_day": first.strip(), "last_day": (last or first).strip()})
        return spans
    raise ValueError(column.kind)  # pragma: no cover


def payloads(
    columns: tuple[Column, ...], table: list[list[str]]
) -> list[tuple[int, dict[str, Any]]]:
    """Return (row number as the spreadsheet shows it, payload) for every non-empty row."""
    if not table:
        raise ImportFileError(_("The file is empty."))
    index = _header_index(columns, table[0])
    body = table[1:]
    if len(body) > MAX_ROWS:
        raise ImportFileError(_("At most %(n)s rows per file.", n=format_decimal(MAX_ROWS)))
    result = []
    for offset, row in enumerate(body, start=2):
        if not any((cell or "").strip() for cell in row):
            continue
        payload: dict[str, Any] = {}
        for position, column in index.items():
            raw = row[position] if position < len(row) else ""
            value = _parse_cell(column, raw or "")
            if value is not None:
                payload[column.key] = value
        result.append((offset, payload))
    return result


def store_row(
    session: Session,
    store: Callable[[dict[str, Any]], str],
    number: int,
    payload: dict[str, Any],
    report: ImportReport,
) -> None:
    """Store one row in its own savepoint, adding what happened to ``report``.

    A row refused (or failing in the database) leaves nothing behind, and the rows before and
    after it are still imported.
    """
    try:
        with session.begin_nested():
            stored = store(payload)
    except FieldErrors as exc:
        for name, messages in exc.errors.items():
            report.errors.append(RowError(number, name, [str(m) for m in messages]))
    except OperationalError:
        # The database is away, not this row: stop at once (the caller answers 503 and
        # nothing of the file is kept) instead of logging a traceback per row.
        raise
    except SQLAlchemyError:
        log.exception("import: row %d could not be stored", number)
        report.errors.append(
            RowError(number, "", [_("This row could not be saved. Check it and import it again.")])
        )
    else:
        report.imported.append(stored)


def columns_for(kind: str) -> tuple[Column, ...]:
    """Return the columns of an import of ``kind`` ("requests" or "volunteers")."""
    return REQUEST_COLUMNS if kind == "requests" else VOLUNTEER_COLUMNS


def parse_upload(kind: str, filename: str, data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """Read a file within the caps and return its rows as payloads (ImportFileError if not)."""
    return payloads(columns_for(kind), read_table(filename, data))


def row_store(
    kind: str, session: Session, *, user: User, ip: str | None = None
) -> Callable[[dict[str, Any]], str]:
    """Return the function that stores one row of an import of ``kind``, as ``user``."""

    def store_request(payload: dict[str, Any]) -> str:
        payload.setdefault("contact_is_beneficiary", "contact_name" not in payload)
        parsed = parse_request(payload, staff=True, session=session, user=user)
        return submit_request(
            session, parsed, source=RequestSource.IMPORT, user=user, ip=ip
        ).request.reference

    def store_volunteer(payload: dict[str, Any]) -> str:
        volunteer = register_volunteer(
            session,
            parse_volunteer(payload, session=session, user=user),
            source="import",
            user=user,
            ip=ip,
        )
        return volunteer.full_name

    return store_request if kind == "requests" else store_volunteer


def open_transaction(session: Session) -> None:
    """Make sure the rows' savepoints sit inside a real transaction, on SQLite too.

    pysqlite opens no transaction for a ``SAVEPOINT``: the first row's savepoint would start
    one and its ``RELEASE`` commit it, so each row would be committed on its own and a file
    failing half-way (the database going away) would keep its first rows.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        connection.exec_driver_sql("BEGIN")


def import_rows(
    session: Session,
    kind: str,
    rows: list[tuple[int, dict[str, Any]]],
    *,
    user: User,
    ip: str | None = None,
) -> ImportReport:
    """Import rows already read (:func:`parse_upload`); the caller commits the valid ones."""
    open_transaction(session)
    store = row_store(kind, session, user=user, ip=ip)
    report = ImportReport(rows=len(rows))
    for number, payload in rows:
        store_row(session, store, number, payload, report)
    return report


def import_requests(
    session: Session, filename: str, data: bytes, *, user: User, ip: str | None = None
) -> ImportReport:
    """Import help requests; the caller commits the valid ones."""
    rows = parse_upload("requests", filename, data)
    return import_rows(session, "requests", rows, user=user, ip=ip)


def import_volunteers(
    session: Session, filename: str, data: bytes, *, user: User, ip: str | None = None
) -> ImportReport:
    """Import volunteers (pending approval and phone verification); the caller commits."""
    rows = parse_upload("volunteers", filename, data)
    return import_rows(session, "volunteers", rows, user=user, ip=ip)


def template_csv(columns: tuple[Column, ...]) -> bytes:
    """Return a CSV template: headers in the reader's language and one example row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(c.label) for c in columns])
    writer.writerow([c.example for c in columns])
    # A BOM so Excel opens the UTF-8 (Vietnamese) text correctly.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def template_xlsx(columns: tuple[Column, ...], title: str) -> bytes:
    """Return an Excel template: headers in the reader's language, keys and one example row."""
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append([str(c.label) for c in columns])
    sheet.append([c.example for c in columns])
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = max(
            14, min(48, len(str(column.label)) + 2)
        )
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
