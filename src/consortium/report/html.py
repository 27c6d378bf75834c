"""The report as one self-contained HTML file (Jinja2, autoescaped; the QR code inline as SVG)."""

from __future__ import annotations

import io

import jinja2
import segno

from consortium.report.content import Report

_env = jinja2.Environment(loader=jinja2.PackageLoader("consortium.report", "templates"), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def qr_svg(text: str) -> str:
    buf = io.BytesIO()
    segno.make_qr(text, error="m").save(buf, kind="svg", scale=4, border=4, xmldecl=False, svgns=True,
                                        title="evidence reference", omitsize=True)
    return buf.getvalue().decode()


def render_html(report: Report) -> str:
    return _env.get_template("report.html").render(r=report, qr=qr_svg(report.qr_text))
