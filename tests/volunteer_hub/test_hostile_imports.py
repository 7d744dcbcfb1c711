"""No upload can take the site down: hostile spreadsheets are a form error, read within caps."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest
from sqlalchemy import func, select

from tests import hostile_xlsx
from tests.conftest import login
from volunteer_hub.models import HelpRequest
from volunteer_hub.services.intake import imports
from volunteer_hub.services.intake.imports import ImportFileError, read_table


def _post(client, data: bytes, name: str = "yeu-cau.xlsx"):  # type: ignore[no-untyped-def]
    return client.post(
        "/requests/import",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (hostile_xlsx.bad_shared_string, "Không đọc được"),
        (hostile_xlsx.text_in_number_cell, "Không đọc được"),
        (lambda: hostile_xlsx.bomb(64 * 1024 * 1024), "MB"),
        (hostile_xlsx.single_huge_cell, "2.000"),
        (lambda: b"PK\x03\x04 not really a zip", "Không đọc được"),
    ],
    ids=["bad-shared-string", "t-n-text", "zip-bomb", "huge-cell", "not-a-zip"],
)
def test_a_hostile_excel_file_is_a_form_error(client, world, session, make, says):
    login(client, world.a.coordinator.email)
    before = session.scalar(select(func.count()).select_from(HelpRequest))
    response = _post(client, make())
    assert response.status_code == 422
    assert says in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(HelpRequest)) == before


def test_a_bomb_is_refused_before_it_is_unpacked():
    data = hostile_xlsx.bomb()  # 640 MB of sheet XML, no <dimension>
    assert len(data) < 8 * 1024 * 1024
    tracemalloc.start()
    with pytest.raises(ImportFileError):
        read_table("bomb.xlsx", data)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


def test_a_sheet_claiming_every_column_is_read_only_as_wide_as_the_cap():
    rows = read_table("wide.xlsx", hostile_xlsx.wide_claim())
    assert len(rows) == imports.MAX_ROWS + 2 or len(rows) == 1499
    assert max(len(r) for r in rows) == imports.MAX_COLUMNS
    assert rows[0][0] == "Họ và tên"


def test_rows_and_cells_are_capped_in_a_csv_too(client, world):
    login(client, world.a.coordinator.email)
    long_cell = ("beneficiary_name,commune\n" + "x" * 5000 + ",1\n").encode()
    response = _post(client, long_cell, "yeu-cau.csv")
    assert response.status_code == 422 and "2.000" in response.get_data(as_text=True)
    many = ("beneficiary_name,commune\n" + "a,1\n" * (imports.MAX_ROWS + 5)).encode()
    response = _post(client, many, "yeu-cau.csv")
    assert response.status_code == 422
    wide = ("beneficiary_name," * 5000 + "\n").encode()
    assert len(read_table("wide.csv", wide)[0]) == imports.MAX_COLUMNS


@pytest.mark.parametrize(
    "make", [hostile_xlsx.lying_sizes, hostile_xlsx.lying_sizes_both], ids=["size", "both-sizes"]
)
def test_a_zip_whose_headers_understate_its_sizes_is_refused_within_the_caps(make):
    data = make()
    sheet = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        stated = sum(info.file_size for info in archive.infolist())
    # The file lies: its directory adds up to a few KB, well under the cap the reader checks,
    # while the sheet's deflate stream really inflates past every cap.
    assert stated < 16 * 1024
    assert hostile_xlsx.inflated_size(data, sheet, limit=64 * 1024 * 1024) >= 64 * 1024 * 1024
    tracemalloc.start()
    with pytest.raises(ImportFileError, match="cannot be read"):
        read_table("lying.xlsx", data)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Only what the headers state is ever inflated, then the stream fails its checks.
    assert peak < 4 * 1024 * 1024


@pytest.mark.app_config(IMPORT_SYNC_MAX_ROWS=0)
def test_a_lying_zip_is_a_form_error_even_when_imports_go_to_the_worker(client, world, session):
    from volunteer_hub.models import ImportJob

    login(client, world.a.coordinator.email)
    before = session.scalar(select(func.count()).select_from(HelpRequest))
    response = _post(client, hostile_xlsx.lying_sizes())
    assert response.status_code == 422
    assert "Không đọc được tệp Excel này" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(HelpRequest)) == before
    assert session.scalar(select(func.count()).select_from(ImportJob)) == 0
