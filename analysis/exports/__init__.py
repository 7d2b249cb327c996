"""The statistician's derived files: the wide file, Stata .dta, the codebook, the R and
Stata loading snippets, the download streams and the export log.

The cohort CSV itself is the questionnaires' contract (questionnaires.cohort_files); every
file here is built from its rows. Modules: codebook.py (every column described once),
wide.py, stata.py, snippets.py, log.py, downloads.py (the services the views call).
The names below are those the views, the tests and bench/ use.
"""
from questionnaires.cohort_files.batching import batched
from questionnaires.cohort_files.writer import FORMULA_STARTS, neutralise, neutralised

from .codebook import (
    CODEBOOK_HEADER,
    WIDE_PATIENT_COLUMNS,
    Column,
    codebook_rows,
    cohort_columns,
    wide_columns,
)
from .downloads import (
    DOCUMENTATION_FILES,
    FILES,
    codebook_export,
    cohort_csv_stream,
    dta_export,
    export_page_context,
    snippet_export,
    wide_csv_stream,
)
from .log import counted, export_log_start
from .snippets import r_snippet, stata_snippet
from .stata import stata_frame, write_dta
from .wide import wide_rows

__all__ = [
    "CODEBOOK_HEADER", "DOCUMENTATION_FILES", "FILES", "FORMULA_STARTS", "WIDE_PATIENT_COLUMNS",
    "Column", "batched",
    "codebook_export", "codebook_rows", "cohort_columns", "cohort_csv_stream", "counted",
    "dta_export", "export_log_start", "export_page_context", "neutralise", "neutralised",
    "r_snippet", "snippet_export", "stata_frame", "stata_snippet", "wide_columns",
    "wide_csv_stream", "wide_rows", "write_dta",
]
