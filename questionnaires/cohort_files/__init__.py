"""The cohort CSV (DESIGN.md, "Cohort CSV"): the questionnaires' contract with the outside.

One row per administration. Its parts, one job each:

- columns.py: the columns, in order, built from the instruments and the characteristics;
- writer.py: the one writer of the file's rows (`manage.py export_cohort`, the download
  and the wide file all read it), text cells neutralised against spreadsheet formulas;
- reader.py: reading and validating a file for import, every error with line and column;
- importer.py: the import itself, all or nothing;
- loader.py: fast inserts with their audit-trail records (COPY on PostgreSQL);
- batching.py: lists of up to n items, for every batched loop above.
"""
