"""Hand-made .xlsx files of the kinds attackers upload: zip bombs, broken cells, huge sheets.

Built part by part with zipfile (openpyxl refuses to write most of them), for the import tests
and bench/import_memory.py.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterable

_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application'
    '/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application'
    '/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application'
    '/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application'
    '/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006'
    '/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006'
    '/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006'
    '/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def build(
    rows: Iterable[str], *, dimension: str | None = None, shared: Iterable[str] = ()
) -> bytes:
    """Return an .xlsx whose sheet holds the given <row> elements (raw XML), streamed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        strings = list(shared)
        z.writestr(
            "xl/sharedStrings.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><sst {_NS} count="{len(strings)}">'
            + "".join(f"<si><t>{s}</t></si>" for s in strings)
            + "</sst>",
        )
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            head = f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}>'
            if dimension:
                head += f'<dimension ref="{dimension}"/>'
            sheet.write((head + "<sheetData>").encode())
            for row in rows:
                sheet.write(row.encode())
            sheet.write(b"</sheetData></worksheet>")
    return buffer.getvalue()


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def bomb(target_bytes: int = 640 * 1024 * 1024) -> bytes:
    """A sheet without <dimension> whose XML unpacks to about ``target_bytes``."""
    row = "<row>" + "".join(inline(f"{c}1", "x" * 40) for c in "ABCDEFGHIJ") + "</row>"
    return build(row for _ in range(target_bytes // len(row)))


def single_huge_cell(chars: int = 15 * 1024 * 1024) -> bytes:
    """One shared string of ``chars`` characters, just under the unpacked-size cap."""
    return build(['<row r="1"><c r="A1" t="s"><v>0</v></c></row>'], shared=["a" * chars])


def wide_claim() -> bytes:
    """A sheet that claims all 16,384 columns and a million rows, with a cell far right."""
    rows = ['<row r="1">' + inline("A1", "Họ và tên") + inline("XFD1", "x") + "</row>"]
    rows += [f'<row r="{n}">' + inline(f"XFD{n}", "x") + "</row>" for n in range(2, 1500)]
    return build(rows, dimension="A1:XFD1048576")


def bad_shared_string() -> bytes:
    """A cell pointing at shared string 99 of a table of one."""
    return build(['<row r="1"><c r="A1" t="s"><v>99</v></c></row>'], shared=["Họ và tên"])


def text_in_number_cell() -> bytes:
    """A cell typed as a number (t="n") that holds text."""
    return build(['<row r="1"><c r="A1" t="n"><v>không phải số</v></c></row>'])


def many_shared_strings(count: int = 280_000) -> bytes:
    """A shared-string table just under the unpacked cap (openpyxl keeps it all in memory)."""
    return build(
        ['<row r="1"><c r="A1" t="s"><v>0</v></c></row>'],
        shared=(f"chuỗi số {n:08d} " + "x" * 24 for n in range(count)),
    )


def _patch_sizes(data: bytes, member: str, *, file_size: int, compress_size: int | None) -> bytes:
    """Rewrite the sizes ``member`` declares, in its local header and the central directory."""
    out = bytearray(data)
    name = member.encode()
    local = out.find(b"PK\x03\x04")
    while local >= 0:
        length = struct.unpack_from("<H", out, local + 26)[0]
        if out[local + 30 : local + 30 + length] == name:
            break
        local = out.find(b"PK\x03\x04", local + 4)
    central = out.find(b"PK\x01\x02")
    while central >= 0:
        length = struct.unpack_from("<H", out, central + 28)[0]
        if out[central + 46 : central + 46 + length] == name:
            break
        central = out.find(b"PK\x01\x02", central + 4)
    assert local >= 0 and central >= 0, member
    struct.pack_into("<I", out, local + 22, file_size)
    struct.pack_into("<I", out, central + 24, file_size)
    if compress_size is not None:
        struct.pack_into("<I", out, local + 18, compress_size)
        struct.pack_into("<I", out, central + 20, compress_size)
    return bytes(out)


def lying_sizes(target_bytes: int = 80 * 1024 * 1024, *, compressed_too: bool = False) -> bytes:
    """A zip bomb whose headers lie: its sheet says it unpacks to 4 KB, it inflates to far more.

    The sizes are patched in the sheet's local header and in the central directory (where a
    reader that checks only the stated sizes looks); with ``compressed_too`` its compressed
    size is understated as well. The deflate stream itself is left whole.
    """
    row = "<row>" + "".join(inline(f"{c}1", "x" * 40) for c in "ABCDEFGHIJ") + "</row>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/sharedStrings.xml", f'<?xml version="1.0"?><sst {_NS} count="0"></sst>')
        # No zip64: the sizes sit in the 32-bit header fields, where they are patched.
        with z.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}>'.encode())
            sheet.write(b"<sheetData>")
            chunk = (row * 1000).encode()
            for _ in range(target_bytes // len(chunk)):
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return _patch_sizes(
        buffer.getvalue(),
        "xl/worksheets/sheet1.xml",
        file_size=4096,
        compress_size=2048 if compressed_too else None,
    )


def lying_sizes_both() -> bytes:
    """:func:`lying_sizes` with the compressed size understated too."""
    return lying_sizes(compressed_too=True)


def inflated_size(data: bytes, member: str, *, limit: int) -> int:
    """Return how many bytes ``member``'s deflate stream really gives, counting up to ``limit``.

    Reads the raw stream after the local header (whatever sizes the headers state), in
    bounded steps, so measuring a bomb never holds more than one step in memory.
    """
    name = member.encode()
    offset = data.find(b"PK\x03\x04")
    while offset >= 0:
        name_len, extra_len = struct.unpack_from("<HH", data, offset + 26)
        if data[offset + 30 : offset + 30 + name_len] == name:
            break
        offset = data.find(b"PK\x03\x04", offset + 4)
    assert offset >= 0, member
    start = offset + 30 + name_len + extra_len
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total, position, step = 0, start, 64 * 1024
    pending = b""
    while total < limit and not inflater.eof:
        if not pending:
            pending = data[position : position + step]
            position += step
            if not pending:
                break
        total += len(inflater.decompress(pending, step))
        pending = inflater.unconsumed_tail
    return total
