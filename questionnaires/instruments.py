"""The three instruments, defined once as data.

Scoring, entry forms, export columns and the codebook all read these definitions. Choices
that INSTRUMENTS.md marks as project defaults (PPiC coded 1-5, prorating rules, the PIH
item-to-domain mapping) live here and nowhere else; changing one means bumping
SCORING_VERSION, which is stored with every score.

Only item codes and short labels ship with the application: the full wording is
licensed by the instruments' owners (see `load_item_wording`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SCORING_VERSION = "2026.1"

ScaleMethod = Literal["mean", "prorated_sum", "percent"]


@dataclass(frozen=True)
class Item:
    code: str
    label: str
    instrument: str
    minimum: int
    maximum: int
    anchors: tuple[str, str] = ("", "")

    @property
    def values(self) -> range:
        return range(self.minimum, self.maximum + 1)


@dataclass(frozen=True)
class Scale:
    """A score computed from a set of items.

    method: "mean" (mean of answered items), "prorated_sum" (mean of answered items x
    number of items), "percent" (mean of answered items rescaled to 0-100 over the
    item range). The score is missing when fewer than `min_answered` items are answered.
    """

    code: str
    label: str
    instrument: str
    items: tuple[str, ...]
    method: ScaleMethod
    min_answered: int
    minimum: float
    maximum: float
    rule: str

    @property
    def n_items(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    source: str
    items: tuple[Item, ...]
    scales: tuple[Scale, ...]
    # PIH forms of the older version ran 0 = best; such answers are scored as max - x.
    reversible: bool = False
    # The scale's ends for the whole instrument (a form heading); each item has its own.
    anchors: tuple[str, str] = ("", "")
    item_codes: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "item_codes", tuple(item.code for item in self.items))


def _items(instrument: str, minimum: int, maximum: int, anchors: tuple[str, str],
           rows: list[tuple[str, str]]) -> tuple[Item, ...]:
    return tuple(Item(code, label, instrument, minimum, maximum, anchors) for code, label in rows)


BPI_ANCHORS = ("0 = no pain / does not interfere", "10 = worst imaginable / completely interferes")
# Each BPI item's own ends: the severity items rate pain, the interference items its effect.
BPI_SEVERITY_ANCHORS = ("0 = no pain", "10 = pain as bad as you can imagine")
BPI_INTERFERENCE_ANCHORS = ("0 = does not interfere", "10 = completely interferes")
BPI = Instrument(
    code="bpi",
    name="Brief Pain Inventory (short form)",
    source="Cleeland, BPI User Guide (2009)",
    anchors=BPI_ANCHORS,
    items=_items("bpi", 0, 10, BPI_SEVERITY_ANCHORS, [
        ("bpi_worst", "Worst pain, last 24 h"),
        ("bpi_least", "Least pain, last 24 h"),
        ("bpi_average", "Average pain"),
        ("bpi_now", "Pain right now"),
    ]) + _items("bpi", 0, 10, BPI_INTERFERENCE_ANCHORS, [
        ("bpi_general_activity", "Interference: general activity"),
        ("bpi_mood", "Interference: mood"),
        ("bpi_walking", "Interference: walking ability"),
        ("bpi_work", "Interference: normal work"),
        ("bpi_relations", "Interference: relations with others"),
        ("bpi_sleep", "Interference: sleep"),
        ("bpi_enjoyment", "Interference: enjoyment of life"),
    ]),
    scales=(
        Scale("bpi_severity", "BPI pain severity", "bpi",
              ("bpi_worst", "bpi_least", "bpi_average", "bpi_now"),
              "mean", 4, 0, 10,
              "Mean of the 4 severity items; all 4 must be answered (project default)."),
        Scale("bpi_interference", "BPI pain interference", "bpi",
              ("bpi_general_activity", "bpi_mood", "bpi_walking", "bpi_work",
               "bpi_relations", "bpi_sleep", "bpi_enjoyment"),
              "mean", 4, 0, 10,
              "Mean of the answered interference items if at least 4 of 7 are answered "
              "(BPI user guide)."),
    ),
)

PPIC = Instrument(
    code="ppic",
    name="Patient Partnership in Care, partnership subscale",
    source="Powell, Powell, Baker, Greco (2009)",
    anchors=("1 = poor", "5 = excellent"),
    items=_items("ppic", 1, 5, ("1 = poor", "5 = excellent"), [
        ("ppic_1", "Understood my needs"),
        ("ppic_2", "Understood my concerns"),
        ("ppic_3", "Information tailored to me"),
        ("ppic_4", "Explained things clearly"),
        ("ppic_5", "Listened to me"),
        ("ppic_6", "Understood my personal situation"),
        ("ppic_7", "Involved me in decisions"),
        ("ppic_8", "Supported me to manage my condition"),
        ("ppic_9", "Helped me plan ahead"),
        ("ppic_10", "Followed up on my care"),
        ("ppic_11", "Overall partnership"),
    ]),
    scales=(
        Scale("ppic_partnership", "PPiC partnership", "ppic",
              tuple(f"ppic_{i}" for i in range(1, 12)),
              "prorated_sum", 6, 11, 55,
              "Sum of the 11 items coded 1-5 (11-55); with 1-5 items missing, mean of "
              "answered items x 11; with 6 or more missing, missing (project default)."),
    ),
)

PIH_DOMAIN_RULE = ("100 x sum / (8 x items); a 2-item domain needs both items, a 3- or 4-item "
                   "domain may miss one (prorated) (project default).")
PIH = Instrument(
    code="pih",
    name="Partners in Health scale (12 items)",
    source="Battersby et al. (2003); Petkov, Harvey, Battersby (2010)",
    reversible=True,
    anchors=("0 = worst", "8 = best"),
    items=_items("pih", 0, 8, ("0 = worst", "8 = best"), [
        ("pih_1", "Knowledge of my health condition"),
        ("pih_2", "Knowledge of my treatment, including medicines"),
        ("pih_3", "Take medicines / carry out treatment as asked"),
        ("pih_4", "Share in decisions about my condition"),
        ("pih_5", "Deal with health professionals to get services"),
        ("pih_6", "Attend appointments as asked"),
        ("pih_7", "Keep track of symptoms and warning signs"),
        ("pih_8", "Take action when symptoms get worse"),
        ("pih_9", "Manage the effect on physical activity"),
        ("pih_10", "Manage the effect on how I feel"),
        ("pih_11", "Manage the effect on my social life"),
        ("pih_12", "Live a healthy life"),
    ]),
    scales=(
        Scale("pih_knowledge", "PIH knowledge", "pih", ("pih_1", "pih_2"),
              "percent", 2, 0, 100, PIH_DOMAIN_RULE),
        Scale("pih_side_effects", "PIH side effects", "pih", ("pih_9", "pih_10", "pih_11"),
              "percent", 2, 0, 100, PIH_DOMAIN_RULE),
        Scale("pih_symptoms", "PIH symptoms", "pih", ("pih_7", "pih_8", "pih_12"),
              "percent", 2, 0, 100, PIH_DOMAIN_RULE),
        Scale("pih_adherence", "PIH treatment adherence", "pih",
              ("pih_3", "pih_4", "pih_5", "pih_6"),
              "percent", 3, 0, 100, PIH_DOMAIN_RULE),
        Scale("pih_overall", "PIH overall (general index)", "pih",
              tuple(f"pih_{i}" for i in range(1, 13)),
              "percent", 10, 0, 100,
              "100 x sum of all 12 items / 96; at least 10 of 12 answered (prorated) "
              "(project default)."),
    ),
)

INSTRUMENTS: tuple[Instrument, ...] = (BPI, PPIC, PIH)
ITEMS: tuple[Item, ...] = tuple(item for inst in INSTRUMENTS for item in inst.items)
ITEMS_BY_CODE: dict[str, Item] = {item.code: item for item in ITEMS}
ITEM_CODES: tuple[str, ...] = tuple(ITEMS_BY_CODE)
SCALES: tuple[Scale, ...] = tuple(scale for inst in INSTRUMENTS for scale in inst.scales)
SCALES_BY_CODE: dict[str, Scale] = {scale.code: scale for scale in SCALES}
SCORE_CODES: tuple[str, ...] = tuple(SCALES_BY_CODE)
PIH_SCORE_CODES: tuple[str, ...] = tuple(scale.code for scale in PIH.scales)
