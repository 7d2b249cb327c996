"""The interview sub-sample's categories, scores and proposal attributes: one home for them."""
from __future__ import annotations

from questionnaires.instruments import PIH_SCORE_CODES

INCREASED, UNCHANGED, LOWERED = "increased", "unchanged", "lowered"
CATEGORIES = (INCREASED, UNCHANGED, LOWERED)
DEFAULT_SD_FRACTION = 0.5
PAIN_SEVERITY = "bpi_severity"
OVERALL = "pih_overall"
CLASSIFIED_SCORES: tuple[str, ...] = (PAIN_SEVERITY, *PIH_SCORE_CODES)
# What the proposal tries to vary, besides the change in overall ability. The change in
# pain comes last: it depends on the rule, the others are coded once per data version
# (completers.CompleterData.pool joins them in this order).
MIX_ATTRIBUTES = ("clinic", "gender", "ethnicity", "education", "age_band",
                  "pain_years_group", "pain_sites_group", "change_bpi_severity")
STATIC_ATTRIBUTES = MIX_ATTRIBUTES[:-1]       # all but the change in pain
