"""Dataset freezes (issue 17, item 4): a frozen, citable cohort with its results.

A freeze stores the cohort CSV's bytes (exactly what `export_cohort` wrote then, in
questionnaires.CohortSnapshot so that `export_cohort --freeze ID` needs no analysis
import), the codebook, the scoring and software versions, and the study's tables fitted
on exactly the frozen rows (frame.py parses the frozen bytes back into the analysis
frame). Nothing of it changes afterwards, whatever happens to the live data.

Modules: frame.py (frozen bytes -> analysis frame), versions.py, services.py (the one
write), selectors.py (reads), views.py (the data manager's page, the frozen files, the
dashboard's `?freeze=ID`).
"""
