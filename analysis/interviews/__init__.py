"""The interview sub-sample (the study's qualitative phase), apart from its page.

constants: the categories, the classified scores and the proposal's attributes (one home);
classify: Table 3's rule (increased / unchanged / lowered) and its rows;
proposal: the maximum-variation proposal of patients to invite;
selectors: the completers' rows and the data version, read narrowly;
completers: the completers as the page needs them, read again only after a data change.
The page's context is analysis/pages/interviews.py; the writes are analysis/services.py.
"""
