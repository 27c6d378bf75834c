"""The report as PDF (fpdf2), with the evidence reference as a QR code (segno).

A Unicode TrueType font is embedded when one is installed (DejaVu Sans, Debian's fonts-dejavu-core),
so addresses, names and notes in any Latin, Greek or Cyrillic script print as written; without one the
PDF core font is used and characters outside Latin-1 print as '?' (the report then says so). Chinese,
Japanese and Korean text (a file name, a case's ruling) needs a CJK font as well: Droid Sans Fallback
(Debian's fonts-droid-fallback, one TrueType file) is embedded as fpdf2's fallback when installed;
without it those characters cannot be printed, and the report says so.
"""

from __future__ import annotations

import io
from pathlib import Path

import segno
from fpdf import FPDF
from fpdf.fonts import FontFace

from consortium.report.content import Report

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"), Path("/usr/local/share/fonts"))


CJK_FONTS = (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
             Path("/usr/share/fonts/truetype/droid/DroidSansFallback.ttf"))


def _cjk_font() -> Path | None:
    return next((f for f in CJK_FONTS if f.is_file()), None)


def _font_files() -> tuple[Path, Path] | None:
    for d in FONT_DIRS:
        regular, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


def qr_png(text: str, scale: int = 8) -> bytes:
    """The QR code of ``text`` (error correction M, the smallest version that holds it) as PNG bytes."""
    buf = io.BytesIO()
    segno.make_qr(text, error="m").save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def render_pdf(report: Report) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=18)
    fonts = _font_files()
    covered: set[int] = set()
    if fonts:
        pdf.add_font("Report", "", str(fonts[0]))
        pdf.add_font("Report", "B", str(fonts[1]))
        family = "Report"
        cjk = _cjk_font()
        if cjk:
            pdf.add_font("ReportCJK", "", str(cjk))
            pdf.set_fallback_fonts(["ReportCJK"], exact_match=False)  # bold CJK prints in the regular face
        covered = {c for name in ("report", "reportcjk") if name in pdf.fonts for c in getattr(pdf.fonts[name], "cmap", {})}

        def clean(s: str) -> str:
            return s
    else:
        family = "Helvetica"

        def clean(s: str) -> str:
            return s.encode("latin-1", "replace").decode("latin-1").replace("\u2026", "...")
    pdf.set_title(clean(report.title))
    pdf.set_subject(clean(report.subtitle))
    pdf.set_creator("consortium evidence report")
    pdf.add_page()

    width = pdf.w - pdf.l_margin - pdf.r_margin
    qr_size = 46
    top = pdf.get_y()
    pdf.image(io.BytesIO(qr_png(report.qr_text)), x=pdf.w - pdf.r_margin - qr_size, y=top - 2, w=qr_size, h=qr_size)
    text_width = width - qr_size - 4
    pdf.set_font(family, "B", 17)
    pdf.multi_cell(text_width, 8, clean(report.title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_text_color(23, 128, 61)
    pdf.set_font(family, "B", 24)
    pdf.cell(text_width, 12, report.verdict, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(family, "", 10)
    pdf.multi_cell(text_width, 5.5, clean(report.subtitle), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font(family, "", 8)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(text_width, 4, "The QR code carries the evidence reference printed in the last section: the chain, "
                                  "the genesis hash, the file's SHA-256, the on-chain key, block, transaction and time.",
                   align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_y(max(pdf.get_y(), top + qr_size) + 4)

    for section in report.sections:
        pdf.set_font(family, "B", 12)
        pdf.cell(width, 8, clean(section.title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 9)
        with pdf.table(col_widths=(42, width - 42), first_row_as_headings=False, borders_layout="HORIZONTAL_LINES",
                       line_height=4.6, padding=1.2, text_align=("LEFT", "LEFT")) as table:
            for label, value in section.rows:
                row = table.row()
                row.cell(clean(label), style=FontFace(emphasis="BOLD", color=(90, 90, 90)))
                row.cell(clean(value))
        for note in section.notes:
            pdf.ln(1)
            pdf.set_font(family, "", 8)
            pdf.set_text_color(90, 90, 90)
            pdf.multi_cell(width, 4, clean(note), align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(0, 0, 0)
        pdf.ln(3)
    pdf.set_font(family, "", 7.5)
    pdf.set_text_color(110, 110, 110)
    footer = report.footer if fonts else report.footer + " (No Unicode font was installed: characters outside " \
                                                        "Latin-1 are printed as '?'.)"
    if fonts and any(ord(c) not in covered for c in _texts(report) if not c.isspace()):
        footer += (" (Some characters have no glyph in the installed fonts and are not printed: for Chinese, Japanese "
                   "and Korean install Debian's fonts-droid-fallback. The HTML report shows every character.)")
    pdf.multi_cell(width, 3.8, clean(footer), align="L", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _texts(report: Report) -> str:
    parts = [report.title, report.subtitle, report.footer]
    for section in report.sections:
        parts += [section.title, *section.notes, *(x for row in section.rows for x in row)]
    return "".join(parts)
