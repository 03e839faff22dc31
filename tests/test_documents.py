"""documents.py: type detection, every bad-input case, page ranges and page rendering."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Generator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from upstage_ocr.errors import (
    ConfigError,
    CorruptDocumentError,
    FileMissingError,
    FileTooLargeError,
    InputError,
    PageRangeError,
    UnsupportedFormatError,
)
from upstage_ocr.inputs import documents, images, office
from upstage_ocr.inputs.documents import (
    MAX_FILE_BYTES,
    DocumentInfo,
    inspect_document,
    iter_page_images,
    render_page,
)
from upstage_ocr.jobs.pages import parse_page_range


def _png(path: Path, size=(120, 60), color="white") -> Path:
    img = Image.new("RGB", size, color)
    ImageDraw.Draw(img).text((10, 20), "hello", fill="black")
    img.save(path)
    return path


def _pdf(path: Path, pages: int) -> Path:
    import pikepdf

    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(200, 100))
    pdf.save(path)
    return path


# -- good inputs --------------------------------------------------------------------------------------


def test_fixtures_are_recognised(fixtures_dir):
    png = inspect_document(fixtures_dir / "check_box.png")
    assert (png.kind, png.mime, png.page_count, png.extension) == ("image", "image/png", 1, ".png")
    assert len(png.sha256) == 64 and png.size == (fixtures_dir / "check_box.png").stat().st_size
    jpg = inspect_document(fixtures_dir / "reciepts.jpg")
    assert (jpg.kind, jpg.mime) == ("image", "image/jpeg")
    pdf = inspect_document(str(fixtures_dir / "multi_page.pdf"))
    assert (pdf.kind, pdf.page_count, pdf.name) == ("pdf", 3, "multi_page.pdf")


def test_pdf_pages_render_at_the_api_scale(fixtures_dir):
    info = inspect_document(fixtures_dir / "multi_page.pdf")
    sizes = [(n, im.size, im.mode) for n, im in iter_page_images(info, [3, 1])]
    # The real API returned 1242x1755 and 1240x1755 for these pages (150 DPI).
    assert sizes == [(3, (1240, 1755), "RGB"), (1, (1242, 1755), "RGB")]
    assert documents.page_sizes(info) == [(1242, 1755), (1240, 1755), (1240, 1755)]


def test_pages_are_rendered_one_at_a_time(fixtures_dir):
    info = inspect_document(fixtures_dir / "multi_page.pdf")
    it = iter_page_images(info)
    assert isinstance(it, Generator)
    first = next(it)
    assert first[0] == 1
    it.close()  # the generator can be abandoned without rendering the rest


def test_supported_type_without_extension(tmp_path):
    img = _png(tmp_path / "x.png")
    bare = tmp_path / "scan"
    bare.write_bytes(img.read_bytes())
    info = inspect_document(bare)
    assert (info.kind, info.mime, info.extension) == ("image", "image/png", ".png")


@pytest.mark.parametrize(
    "fmt,ext,mime",
    [
        ("BMP", ".bmp", "image/bmp"),
        ("WEBP", ".webp", "image/webp"),
        ("GIF", ".gif", "image/gif"),
        ("JPEG", ".jpg", "image/jpeg"),
    ],
)
def test_image_formats(tmp_path, fmt, ext, mime):
    path = tmp_path / f"a{ext}"
    Image.new("RGB", (50, 40), "white").save(path, format=fmt)
    info = inspect_document(path)
    assert (info.kind, info.mime, info.page_count) == ("image", mime, 1)
    ((_n, img),) = list(iter_page_images(info))
    assert img.size == (50, 40) and img.mode == "RGB"


def test_multi_frame_tiff_is_one_page_per_frame(tmp_path):
    path = tmp_path / "pages.tiff"
    frames = [Image.new("RGB", (40 + i * 10, 30), "white") for i in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    info = inspect_document(path)
    assert (info.kind, info.page_count) == ("tiff", 3)
    assert [(n, im.size) for n, im in iter_page_images(info, [3, 2])] == [(3, (60, 30)), (2, (50, 30))]
    with pytest.raises(PageRangeError):
        list(iter_page_images(info, [4]))


def test_heic(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    path = tmp_path / "photo.heic"
    try:
        Image.new("RGB", (64, 48), "white").save(path, format="HEIF")
    except Exception as exc:  # pragma: no cover - encoder missing in some builds
        pytest.skip(f"no HEIF encoder: {exc}")
    info = inspect_document(path)
    assert (info.kind, info.mime) == ("image", "image/heic")
    assert render_page(info, 1).size == (64, 48)


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rot.jpg"
    img = Image.new("RGB", (80, 40), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    img.save(path, exif=exif.tobytes())
    info = inspect_document(path)
    assert render_page(info, 1).size == (40, 80)


def test_transparent_png_becomes_white_rgb(tmp_path):
    path = tmp_path / "t.png"
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(path)
    img = render_page(inspect_document(path), 1)
    assert img.mode == "RGB" and img.getpixel((5, 5)) == (255, 255, 255)


def test_office_types_by_content_and_extension(tmp_path, monkeypatch):
    docx = tmp_path / "letter.docx"
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    info = inspect_document(docx)
    assert (info.kind, info.extension, info.page_count) == ("office", ".docx", None)
    pptx = tmp_path / "deck"
    with zipfile.ZipFile(pptx, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("ppt/slides/slide1.xml", "<p/>")
        zf.writestr("ppt/slides/slide2.xml", "<p/>")
    assert (inspect_document(pptx).extension, inspect_document(pptx).page_count) == (".pptx", 2)
    hwpx = tmp_path / "a.hwpx"
    with zipfile.ZipFile(hwpx, "w") as zf:
        zf.writestr("mimetype", "application/hwp+zip")
    assert inspect_document(hwpx).extension == ".hwpx"
    hwp = tmp_path / "a.hwp"
    hwp.write_bytes(documents._OLE_MAGIC + b"\0" * 600)
    assert inspect_document(hwp).mime == "application/x-hwp"
    doc = tmp_path / "old.doc"
    doc.write_bytes(documents._OLE_MAGIC + b"\0" * 600)
    with pytest.raises(UnsupportedFormatError):
        inspect_document(doc)
    # Without LibreOffice the local path says what to install, or to use the API.
    monkeypatch.setattr(office, "find_soffice", lambda: None)
    with pytest.raises(ConfigError, match="LibreOffice"):
        list(iter_page_images(info))


# -- bad inputs ---------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileMissingError, match="not found"):
        inspect_document(tmp_path / "nope.pdf")


def test_directory(tmp_path):
    with pytest.raises(FileMissingError, match="directory"):
        inspect_document(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(FileMissingError, match="empty"):
        inspect_document(path)


def test_unreadable_file(tmp_path):
    path = _png(tmp_path / "secret.png")
    path.chmod(0)
    try:
        try:
            path.open("rb").close()
            pytest.skip("running as a user who can read mode-000 files (root)")
        except PermissionError:
            pass
        with pytest.raises(FileMissingError, match="permission"):
            inspect_document(path)
    finally:
        path.chmod(0o644)


def test_corrupt_pdf(tmp_path):
    path = tmp_path / "bad.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj garbage that is not a pdf at all\n")
    with pytest.raises(CorruptDocumentError):
        inspect_document(path)


def test_truncated_pdf(fixtures_dir, tmp_path):
    data = (fixtures_dir / "multi_page.pdf").read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 3])
    try:
        info = inspect_document(path)
    except CorruptDocumentError:
        return
    # pdfium can sometimes recover a cut file's first pages; then every page either renders or fails clearly.
    try:
        for _n, _im in iter_page_images(info):
            pass
    except CorruptDocumentError:
        pass


def test_encrypted_pdf(tmp_path):
    import pikepdf

    path = tmp_path / "locked.pdf"
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(path, encryption=pikepdf.Encryption(owner="owner-pw", user="user-pw"))
    with pytest.raises(InputError, match="password-protected"):
        inspect_document(path)


def test_zero_page_pdf(tmp_path):
    path = _pdf(tmp_path / "zero.pdf", 0)
    with pytest.raises(CorruptDocumentError, match="no pages"):
        inspect_document(path)


def test_truncated_jpeg(fixtures_dir, tmp_path):
    data = (fixtures_dir / "reciepts.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptDocumentError, match=r"truncated|damaged"):
        inspect_document(path)


def test_corrupt_png(tmp_path):
    path = tmp_path / "bad.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(CorruptDocumentError):
        inspect_document(path)


def test_pixel_bomb_is_refused_from_the_header(tmp_path):
    # A 20000 x 20000 PNG (400 MP) that compresses to a few hundred KB: refused without being decoded.
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000), 1).save(path, optimize=True)
    assert path.stat().st_size < MAX_FILE_BYTES
    with pytest.raises(FileTooLargeError, match="pixels"):
        inspect_document(path)


def test_pixel_limit_between_one_and_two_times(tmp_path, monkeypatch):
    # Over MAX_PIXELS but under PIL's hard refusal (2x): our own check still refuses it.
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    path = _png(tmp_path / "big.png", size=(40, 30))
    with pytest.raises(FileTooLargeError):
        inspect_document(path)


def test_wrong_content_under_a_good_extension(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_text("this is plain text, not a JPEG")
    with pytest.raises(UnsupportedFormatError, match="content is not"):
        inspect_document(path)
    disguised = tmp_path / "scan.pdf"
    disguised.write_bytes(_png(tmp_path / "real.png").read_bytes())
    assert inspect_document(disguised).mime == "image/png"  # magic bytes win over the name


def test_unknown_type(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(UnsupportedFormatError):
        inspect_document(path)


def test_zip_that_is_not_a_document(tmp_path):
    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.txt", "x")
    with pytest.raises(UnsupportedFormatError):
        inspect_document(path)


def test_over_50_mb(tmp_path):
    path = tmp_path / "huge.pdf"
    with path.open("wb") as fh:
        fh.write(b"%PDF-1.7\n")
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: no 50 MB actually written
    with pytest.raises(FileTooLargeError, match="50 MB"):
        inspect_document(path)


def test_info_is_frozen(fixtures_dir):
    info = inspect_document(fixtures_dir / "check_box.png")
    assert isinstance(info, DocumentInfo)
    with pytest.raises(AttributeError):
        info.size = 1  # type: ignore[misc]


# -- page ranges --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec,total,expected",
    [
        (None, 5, None),
        ("all", 5, None),
        ("", 5, None),
        ("1-3,5", 10, [1, 2, 3, 5]),
        ("5,1-3,2", 10, [1, 2, 3, 5]),
        ("3-", 5, [3, 4, 5]),
        ("-2", 5, [1, 2]),
        (" 4 ", 5, [4]),
        ("2-2", 5, [2]),
        ("1,3", None, [1, 3]),
    ],
)
def test_page_ranges(spec, total, expected):
    assert parse_page_range(spec, total) == expected


@pytest.mark.parametrize("spec", ["0", "6", "1-9", "3-1", "a", "1-2-3", "1,,2", "-", "1 2", "4-7"])
def test_bad_page_ranges_name_the_page_count(spec):
    with pytest.raises(PageRangeError, match="5 pages"):
        parse_page_range(spec, 5)


def test_open_range_needs_a_known_page_count():
    with pytest.raises(PageRangeError):
        parse_page_range("3-", None)


def test_render_page_out_of_range(fixtures_dir):
    info = inspect_document(fixtures_dir / "multi_page.pdf")
    with pytest.raises(PageRangeError):
        render_page(info, 4)


def test_sha256_is_of_the_whole_file(tmp_path):
    import hashlib

    path = tmp_path / "big.png"
    Image.new("RGB", (1500, 1500)).save(path)
    assert inspect_document(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert os.path.getsize(path) == inspect_document(path).size
