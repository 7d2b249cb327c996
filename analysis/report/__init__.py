"""The journal report of a model run (or of a frozen dataset): issue 19 item 6.

builder.py turns a results dict (analysis/stats/results.py) and a provenance dict
({label, date, fingerprint}) into a Report of plain text cells, formatted by the
dashboard's own layout functions so that every number reads as on the dashboard;
docx.py writes it as a Word document, html.py as a print-ready page.
"""
from .builder import Report, ReportTable, build_report

__all__ = ["Report", "ReportTable", "build_report"]
