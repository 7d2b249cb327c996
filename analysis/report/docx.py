"""The report as a Word document (python-docx): landscape A4, one Word table per table."""
from __future__ import annotations

import io

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.shared import Cm, Pt

from .builder import Report, ReportTable


def report_docx(report: Report) -> bytes:
    document = Document()
    _landscape(document)
    document.styles["Normal"].font.size = Pt(9)
    document.add_heading(report.title, level=0)
    document.add_paragraph(f"{report.provenance['label']}, {report.provenance['date']}. "
                           f"Data fingerprint {report.provenance['fingerprint']}.")
    document.add_heading("Methods", level=1)
    for paragraph in report.methods:
        document.add_paragraph(paragraph)
    for table in report.tables:
        _table(document, table)
    if report.warnings:
        document.add_heading("Warnings of the run", level=1)
        for warning in report.warnings:
            document.add_paragraph(warning, style="List Bullet")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _landscape(document) -> None:
    # Table 2 has eleven columns: portrait A4 would squeeze them to one word a line
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.5))


def _table(document, table: ReportTable) -> None:
    document.add_heading(table.title, level=1)
    if table.intro:
        document.add_paragraph(table.intro)
    grid = document.add_table(rows=1 + len(table.rows), cols=len(table.header))
    grid.style = "Table Grid"
    for cell, text in zip(grid.rows[0].cells, table.header, strict=True):
        cell.text = text
        _bold(cell)
    for index, row in enumerate(table.rows):
        cells = grid.rows[index + 1].cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text
        if index in table.group_rows:
            _bold(cells[0])
    for note in table.notes:
        document.add_paragraph(note, style="List Bullet")


def _bold(cell) -> None:
    for paragraph in cell.paragraphs:
        for run in paragraph.runs:
            run.bold = True
