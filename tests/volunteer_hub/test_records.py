"""Coordinators enter requests taken by phone, import spreadsheets and print QR posters."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from tests.conftest import login
from volunteer_hub.models import HelpRequest, RequestSource, Volunteer, VolunteerStatus


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model))


def test_a_request_taken_by_phone_records_its_source_and_priority(client, world, session):
    login(client, world.a.coordinator.email)
    assert client.get("/requests/new").status_code == 200
    response = client.post(
        "/requests/new",
        data={
            "source": "phone",
            "priority": "4",
            "beneficiary_name": "Phạm Văn Tư",
            "contact_is_beneficiary": "yes",
            "phone": "",
            "reach_note": "Qua trưởng thôn",
            "commune": world.a.commune.code,
            "services": ["vneid_install"],
            "consent": "yes",
        },
    )
    assert response.status_code == 302
    record = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert record.source is RequestSource.PHONE and record.priority == 4
    assert record.created_by_id == world.a.coordinator.id


def test_a_coordinator_cannot_enter_a_request_for_another_commune(client, world, session):
    login(client, world.a.coordinator.email)
    before = count(session, HelpRequest)
    response = client.post(
        "/requests/new",
        data={
            "source": "in_person",
            "beneficiary_name": "X",
            "phone": "0912345678",
            "commune": world.b.commune.code,
            "services": ["vneid_install"],
            "consent": "yes",
        },
    )
    assert response.status_code == 422
    assert count(session, HelpRequest) == before


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_importing_requests_keeps_valid_rows_and_reports_the_rest(client, world, session):
    login(client, world.a.coordinator.email)
    code = world.a.commune.code
    rows = [
        ["beneficiary_name", "phone", "commune", "services", "consent", "people_count", "house"],
        ["Nguyễn Thị Sen", "0912 000 111", code, "vneid_install; scam_safety", "có", 2, "5 Lê Lợi"],
        ["", "0912 000 222", code, "vneid_install", "yes", 1, ""],  # no name
        ["Trần Văn Lộc", "12", code, "vneid_install", "yes", 1, ""],  # bad phone
        [
            "Hồ Thị Mai",
            "0912 000 333",
            world.b.commune.code,
            "vneid_install",
            "yes",
            1,
            "",
        ],  # not theirs
        ["Đỗ Văn Sơn", "0912 000 444", code, "unknown_service", "yes", 1, ""],
        [None, None, None, None, None, None, None],  # empty rows are skipped
        [
            "Mai Thị Cúc",
            "",
            code,
            "health_book",
            "yes",
            1,
            "8 Hùng Vương",
        ],  # no phone, no reach note
    ]
    before = count(session, HelpRequest)
    response = client.post(
        "/requests/import",
        data={"file": (io.BytesIO(xlsx(rows)), "yeu-cau.xlsx")},
        content_type="multipart/form-data",
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert count(session, HelpRequest) == before + 1
    imported = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert imported.beneficiary_name == "Nguyễn Thị Sen" and imported.source is RequestSource.IMPORT
    assert imported.people_count == 2 and len(imported.services) == 2
    assert "Đã nhập 1 trên 6 dòng." in body
    for row in (3, 4, 5, 6, 8):
        assert f"<td>{row}</td>" in body
    assert "<td>Số điện thoại</td>" not in body and "<td>Điện thoại</td>" in body


def test_importing_a_csv_with_vietnamese_headers(client, world, session):
    login(client, world.a.coordinator.email)
    template = client.get("/requests/import/template.csv")
    assert template.status_code == 200
    header = next(csv.reader(io.StringIO(template.get_data(as_text=True).lstrip("\ufeff"))))
    assert header[0] == "Họ tên người cần hỗ trợ"
    index = {name: i for i, name in enumerate(header)}
    row = [""] * len(header)
    row[index["Họ tên người cần hỗ trợ"]] = "Võ Thị Lài"
    row[index["Điện thoại"]] = "0905111222"
    row[index["Mã xã, phường"]] = world.a.commune.code
    row[index["Nội dung cần hỗ trợ (mã dịch vụ, cách nhau bởi ;)"]] = "bank_app"
    row[index["Đã đồng ý (có/không)"]] = "có"
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, row])
    response = client.post(
        "/requests/import",
        data={"file": (io.BytesIO(buffer.getvalue().encode("utf-8")), "a.csv")},
        content_type="multipart/form-data",
    )
    assert "Đã nhập 1 trên 1 dòng." in response.get_data(as_text=True)


def test_a_file_that_is_not_a_spreadsheet_is_refused_clearly(client, world, session):
    login(client, world.a.coordinator.email)
    for name, data, message in [
        ("a.pdf", b"%PDF-1.4", "Hãy tải lên tệp .csv hoặc .xlsx."),
        ("a.xlsx", b"not a zip", "Không đọc được tệp Excel này."),
        ("a.csv", "tên;điện thoại".encode("utf-16"), "UTF-8"),
        ("a.csv", b"foo,bar\n1,2\n", "Thiếu cột"),
    ]:
        response = client.post(
            "/requests/import",
            data={"file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 422, name
        assert message in response.get_data(as_text=True), name
    assert (
        client.post("/requests/import", data={}, content_type="multipart/form-data").status_code
        == 422
    )


def test_importing_volunteers_from_the_excel_template(client, world, session):
    login(client, world.a.coordinator.email)
    template = client.get("/volunteers/import/template.xlsx")
    assert template.status_code == 200
    sheet = load_workbook(io.BytesIO(template.data)).active
    header = [cell.value for cell in sheet[1]]
    assert header[0] == "Họ và tên"
    example = [cell.value for cell in sheet[2]]
    example[header.index("Mã xã, phường nơi ở")] = world.a.commune.code
    bad = list(example)
    bad[header.index("Số điện thoại di động")] = "0234 3822 456"
    response = client.post(
        "/volunteers/import",
        data={"file": (io.BytesIO(xlsx([header, example, bad])), "tnv.xlsx")},
        content_type="multipart/form-data",
    )
    assert "Đã nhập 1 trên 2 dòng." in response.get_data(as_text=True)
    imported = session.scalars(select(Volunteer).where(Volunteer.source == "import")).one()
    assert imported.status is VolunteerStatus.PENDING and imported.phone_verified_at is None
    assert imported.skill_codes == {"vneid", "epayment"}


def test_posters_carry_a_qr_code_that_opens_the_prefilled_form(client, world):
    login(client, world.a.coordinator.email)
    assert world.a.commune.name in client.get("/posters").get_data(as_text=True)
    page = client.get(f"/posters/{world.a.commune.code}/{world.a.hamlet.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"/request?commune={world.a.commune.code}&amp;hamlet_id={world.a.hamlet.id}" in body
    assert "Cần hỗ trợ dùng điện thoại?" in body
    svg = client.get(f"/posters/{world.a.commune.code}/{world.a.hamlet.id}/qr.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.get_data(as_text=True).lstrip().startswith("<svg")
    assert client.get(f"/posters/{world.a.commune.code}/{world.b.hamlet.id}").status_code == 404
    assert client.get(f"/posters/{world.b.commune.code}").status_code == 404


def test_a_csv_cell_over_the_csv_limit_is_refused_clearly(client, world, session):
    # Python's csv module refuses a cell over 128 KiB; the file is still well under the
    # upload limit.
    login(client, world.a.coordinator.email)
    body = "beneficiary_name,phone,commune,services,consent,notes\n"
    body += f"Hoa,0912000111,{world.a.commune.code},vneid_install,yes,ok\n"
    body += f'Lan,0912000222,{world.a.commune.code},vneid_install,yes,"{"x" * 200_000}"\n'
    before = count(session, HelpRequest)
    response = client.post(
        "/requests/import",
        data={"file": (io.BytesIO(body.encode("utf-8")), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Không đọc được dòng 3 của tệp CSV này" in response.get_data(as_text=True)
    assert count(session, HelpRequest) == before


def test_a_row_failing_in_the_database_is_reported_and_leaves_nothing(client, world, session):
    # The checks run before a row is written, but the database may still refuse a row (a
    # constraint, a lost connection): that row alone is rolled back, the others are imported.
    from sqlalchemy import event
    from sqlalchemy.exc import IntegrityError

    from volunteer_hub.models import AuditEvent, RequestService

    def refuse(mapper, connection, target):  # type: ignore[no-untyped-def]
        if target.beneficiary_name == "Lỗi Cơ Sở":
            raise IntegrityError("INSERT INTO help_request", {}, Exception("refused by a test"))

    login(client, world.a.coordinator.email)
    code = world.a.commune.code
    rows = [
        ["beneficiary_name", "phone", "commune", "services", "consent"],
        ["Nguyễn Thị Sen", "0912 000 111", code, "vneid_install; scam_safety", "có"],
        ["Lỗi Cơ Sở", "0912 000 222", code, "vneid_install; bank_app", "có"],
        ["Trần Văn Lộc", "0912 000 333", code, "health_book", "có"],
    ]
    before = {m: count(session, m) for m in (HelpRequest, RequestService, AuditEvent)}
    event.listen(HelpRequest, "before_insert", refuse)
    try:
        response = client.post(
            "/requests/import",
            data={"file": (io.BytesIO(xlsx(rows)), "yeu-cau.xlsx")},
            content_type="multipart/form-data",
        )
    finally:
        event.remove(HelpRequest, "before_insert", refuse)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Đã nhập 2 trên 3 dòng." in body
    assert "<td>3</td>" in body and "Không lưu được dòng này." in body
    names = set(session.scalars(select(HelpRequest.beneficiary_name)))
    assert {"Nguyễn Thị Sen", "Trần Văn Lộc"} <= names and "Lỗi Cơ Sở" not in names
    assert count(session, HelpRequest) == before[HelpRequest] + 2
    assert count(session, RequestService) == before[RequestService] + 3
    created = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "create", AuditEvent.entity == "help_request")
    )
    assert created == 2


def test_opening_personal_data_is_written_to_the_audit_log(client, world, session):
    from volunteer_hub.models import AuditEvent

    login(client, world.a.coordinator.email)
    assert client.get(f"/requests/{world.a.request.id}").status_code == 200
    assert client.get(f"/volunteers/{world.a.volunteer.id}").status_code == 200
    assert client.get(f"/requests/{world.b.request.id}").status_code == 404  # not theirs
    views = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "view").order_by(AuditEvent.id)
    ).all()
    assert [(v.entity, v.entity_id) for v in views] == [
        ("help_request", str(world.a.request.id)),
        ("volunteer", str(world.a.volunteer.id)),
    ]
    assert {v.user_id for v in views} == {world.a.coordinator.id}
    assert all(v.ip and v.at for v in views)


def test_certificates_and_report_exports_are_written_to_the_audit_log(client, world, session):
    from volunteer_hub.models import AuditEvent

    login(client, world.a.coordinator.email)
    assert client.get(f"/volunteers/{world.a.volunteer.id}/certificate").status_code == 200
    assert client.get("/reports/export.xlsx").status_code == 200
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity.in_(["certificate", "report"]))
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.entity) for e in events] == [
        ("view", "certificate"),
        ("export", "report"),
    ]
    assert events[0].entity_id == str(world.a.volunteer.id)
    assert events[1].detail["format"] == "xlsx"
    assert {e.user_id for e in events} == {world.a.coordinator.id}
    assert all(e.ip and e.at for e in events)
