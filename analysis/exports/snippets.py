"""R and Stata code that loads the cohort CSV with the codebook's types and labels."""
from __future__ import annotations

from .codebook import CATEGORY, DATE, FLOAT, INTEGER, Column, cohort_columns


def _r_class(column: Column) -> str:
    return {INTEGER: "integer", FLOAT: "numeric", DATE: "Date"}.get(column.type, "character")


def r_snippet() -> str:
    """Base R (no packages) that reads the cohort CSV with the codebook's types."""
    columns = cohort_columns()
    classes = ",\n".join(f'    {column.name} = "{_r_class(column)}"' for column in columns)
    lines = [
        "# PainCohort cohort CSV: one row per administration (patient x timepoint).",
        "# Column meanings, ranges and scoring rules: paincohort_codebook.csv.",
        'cohort <- read.csv("paincohort_cohort.csv", na.strings = "", encoding = "UTF-8",',
        "  colClasses = c(",
        classes,
        "  ))",
    ]
    for column in columns:
        if column.type == CATEGORY:
            codes = ", ".join(f'"{code}"' for code, _ in column.categories)
            labels = ", ".join(f'"{label}"' for _, label in column.categories)
            lines.append(f"cohort${column.name} <- factor(cohort${column.name}, "
                         f"levels = c({codes}), labels = c({labels}))")
    lines.append("str(cohort)")
    return "\n".join(lines) + "\n"


def stata_label(text: str) -> str:
    return text.replace('"', "'")[:80]


def stata_snippet() -> str:
    """A Stata do-file that imports the cohort CSV with types, dates and labels."""
    columns = cohort_columns()
    positions = {column.name: number for number, column in enumerate(columns, start=1)}
    strings = " ".join(str(positions[c.name]) for c in columns if not c.is_numeric)
    numbers = " ".join(str(positions[c.name]) for c in columns if c.is_numeric)
    lines = [
        "* PainCohort cohort CSV: one row per administration (patient x timepoint).",
        "* Column meanings, ranges and scoring rules: paincohort_codebook.csv.",
        'import delimited using "paincohort_cohort.csv", varnames(1) encoding("utf-8") ///',
        f"    bindquote(strict) stringcols({strings}) numericcols({numbers}) clear",
        'generate administered_on_d = date(administered_on, "YMD")',
        "format administered_on_d %td",
        "order administered_on_d, after(administered_on)",
        "drop administered_on",
        "rename administered_on_d administered_on",
    ]
    for column in columns:
        if column.type != CATEGORY:
            continue
        name = column.name
        codes = " ".join(f'{n} "{code}"' for n, (code, _) in enumerate(column.categories, 1))
        labels = " ".join(f'{n} "{stata_label(label)}"'
                          for n, (_, label) in enumerate(column.categories, 1))
        lines += [f"label define {name} {codes}",
                  f"encode {name}, generate({name}_c) label({name}) noextend",
                  f"label define {name} {labels}, modify",
                  f"order {name}_c, after({name})",
                  f"drop {name}",
                  f"rename {name}_c {name}"]
    lines += [f'label variable {column.name} "{stata_label(column.label)}"'
              for column in columns]
    lines.append("describe")
    return "\n".join(lines) + "\n"
