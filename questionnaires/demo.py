"""A synthetic cohort shaped like the study (Fu et al. 2018), for demos and benchmarks.

Pure numpy, no database: `generate_demo_cohort()` returns plain rows (dicts) that the
`seed_demo` command stores. Deterministic for a given seed and end date.

The model (STUDY.md):
- baseline characteristics drawn to match Table 1 (age median 48, 67 % female, 82 % White
  British, education 31/52/17 %, years of pain 35/15/50 %, pain sites 19/38/43 %);
- BPI severity and interference, and PPiC partnership (37.8 (8.6) at baseline, 45.1 (6.8) at
  follow-up) as latent levels;
- each PIH domain = intercept + the domain's Table 2 coefficients x (partnership at that
  timepoint, age, gender, ethnicity, education, baseline pain severity, years of pain,
  pain sites) + a follow-up shift + clinic and patient random intercepts + residual.
  Intercepts and follow-up shifts put the domain means at Table 1; the variance left
  over after the covariates is split between clinic (4 %), patient (46 %) and occasion, so
  the domain SDs are near Table 1's. The overall index follows from the domains' items
  (its implied partnership coefficient, a weighted mean of the domains', is 0.81).
  The paper's model has no timepoint term, so a fit of that model to these data
  attributes part of the follow-up shift to partnership: expect a partnership
  coefficient somewhat above the generating one.
- Item answers (not scores) are drawn around the latent levels, rounded and clipped to
  each item's range; about 1 % of items are left unanswered, so some scores are prorated
  and a few are missing.
- Recruitment spreads over 18 months ending a week before `end_date`; 70 % attend
  follow-up 76-120 days after baseline (5 % outside the window). Of the rest, 27 % did not
  attend and 73 % were discharged, once the window has closed; until then they, and
  everyone whose follow-up date is still ahead, are active.
"""
from __future__ import annotations

import datetime as dt
import string
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from django.utils import timezone

from questionnaires.instruments import BPI, ITEM_CODES, PIH, PPIC

# Table 1 (overall): targets for the generating model.
AGE_MEDIAN, AGE_SD, AGE_RANGE = 48, 14, (19, 84)
P_FEMALE, P_WHITE_BRITISH = 0.67, 0.82
EDUCATION = (("none", 0.31), ("below_a_level", 0.52), ("a_level_or_above", 0.17))
PAIN_YEARS_GROUPS = (0.35, 0.15, 0.50)  # <= 4, 5-7, >= 8
PAIN_SITES_GROUPS = (0.19, 0.38, 0.43)  # 1, 2, >= 3
SEVERITY_MEAN, SEVERITY_SD = 5.7, 1.5  # + item noise gives Table 1's 1.6
SEVERITY_CHANGE, SEVERITY_CHANGE_SD = -0.6, 1.1
INTERFERENCE_MEAN = 6.2
PARTNERSHIP = {"baseline": (37.8, 8.6), "followup": (45.1, 6.8)}
PARTNERSHIP_CORRELATION = 0.5
# Domain: (baseline mean, SD), (follow-up mean, SD).
PIH_TARGETS = {
    "pih_knowledge": ((50.8, 29.0), (73.8, 21.5)),
    "pih_side_effects": ((45.0, 23.8), (63.4, 20.3)),
    "pih_symptoms": ((73.2, 15.3), (82.9, 11.2)),
    "pih_adherence": ((78.2, 18.8), (89.6, 13.8)),
}
# Table 2 coefficients per domain, in the order of TERMS.
TERMS = ("partnership", "age", "female", "white_british", "below_a_level",
         "a_level_or_above", "severity", "years_5to7", "years_ge8", "sites_2", "sites_ge3")
TABLE2 = {
    "pih_knowledge": (1.47, 0.44, -2.78, 10.46, 4.46, 2.52, -1.32, -8.33, 2.33, 4.01, 12.88),
    "pih_side_effects": (0.70, 0.34, 3.52, 7.24, 7.03, 15.84, -4.71, -0.17, -1.46, -2.36,
                         -6.65),
    "pih_symptoms": (0.72, 0.18, 1.54, 3.35, 3.31, 3.26, -0.62, 1.53, -2.29, -1.09, 1.14),
    "pih_adherence": (0.62, -0.03, -0.03, 3.50, -4.10, -9.96, 0.78, 0.21, -0.67, 6.57, 1.58),
}
CLINIC_SHARE, PATIENT_SHARE = 0.04, 0.46
DOMAIN_CORRELATION = 0.4  # shared part of the patient and occasion effects across domains
PIH_ITEM_SD = 0.6  # item noise around the domain level, on the 0-8 item scale
MISSING_ITEM_RATE = 0.01
FOLLOWED_UP, DID_NOT_ATTEND_SHARE = 0.70, 12 / 44
RECRUITMENT_DAYS, LAST_RECRUIT_DAYS_AGO = 548, 7
STUDY_CLINIC_WEIGHTS = (31, 51, 21)  # completers per clinic in the paper

PIH_DOMAIN_ITEMS = {scale.code: scale.items for scale in PIH.scales if scale.code in TABLE2}


@dataclass
class DemoCohort:
    """Column arrays of a generated cohort; rows come out as plain dicts."""

    clinic_codes: list[str]
    patients: dict[str, np.ndarray]
    administrations: dict[str, np.ndarray]

    def patient_rows(self) -> Iterator[dict]:
        p = self.patients
        for i in range(len(p["study_id"])):
            yield {
                "study_id": str(p["study_id"][i]),
                "clinic": self.clinic_codes[p["clinic"][i]],
                "consented_on": _date(p["consented_on"][i]),
                "age": int(p["age"][i]), "gender": str(p["gender"][i]),
                "ethnicity": str(p["ethnicity"][i]), "education": str(p["education"][i]),
                "pain_years": int(p["pain_years"][i]), "pain_sites": int(p["pain_sites"][i]),
                "followup_status": str(p["followup_status"][i]),
                "lost_reason": str(p["lost_reason"][i]),
            }

    def administration_rows(self) -> Iterator[dict]:
        a, codes = self.administrations, ITEM_CODES
        items = {code: a[code].tolist() for code in codes}
        study_ids = self.patients["study_id"][a["patient"]].tolist()
        for i, (timepoint, day) in enumerate(zip(a["timepoint"].tolist(),
                                                 a["administered_on"].tolist(), strict=True)):
            yield {
                "study_id": study_ids[i], "timepoint": timepoint,
                "administered_on": _date(day),
                "answers": {code: (None if items[code][i] < 0 else items[code][i])
                            for code in codes},
            }


def _date(ordinal: int) -> dt.date:
    return dt.date.fromordinal(int(ordinal))


def clinic_codes(n_clinics: int) -> list[str]:
    """A, B, ..., Z, AA, AB, ... (spreadsheet-style)."""
    codes, letters = [], string.ascii_uppercase
    for n in range(n_clinics):
        code, k = "", n + 1
        while k:
            k, remainder = divmod(k - 1, 26)
            code = letters[remainder] + code
        codes.append(code)
    return codes


def generate_demo_cohort(*, n_patients: int = 147, n_clinics: int = 3, seed: int = 2018,
                         end_date: dt.date | None = None) -> DemoCohort:
    """The synthetic cohort; same arguments, same cohort."""
    rng = np.random.default_rng(seed)
    end = (end_date or timezone.localdate()).toordinal()
    codes = clinic_codes(n_clinics)
    patients = _patients(rng, n_patients, n_clinics, end, codes)
    latent = _latent_levels(rng, patients, n_clinics)
    administrations = _administrations(rng, patients, latent, end)
    return DemoCohort(codes, patients, administrations)


# -- patients --------------------------------------------------------------------------------

def _clinic_of_each_patient(rng, n_patients: int, n_clinics: int) -> np.ndarray:
    if n_clinics == len(STUDY_CLINIC_WEIGHTS):
        weights = np.array(STUDY_CLINIC_WEIGHTS, dtype=float)
    else:
        weights = rng.gamma(4.0, size=n_clinics)
    sizes = rng.multinomial(n_patients, weights / weights.sum())
    return np.repeat(np.arange(n_clinics), sizes)


def _patients(rng, n: int, n_clinics: int, end: int, codes: list[str]) -> dict[str, np.ndarray]:
    clinic = _clinic_of_each_patient(rng, n, n_clinics)
    consented = end - LAST_RECRUIT_DAYS_AGO - rng.integers(0, RECRUITMENT_DAYS, n)
    # Study IDs are numbered in order of recruitment within each clinic.
    order = np.lexsort((consented, clinic))
    clinic, consented = clinic[order], consented[order]
    first = np.searchsorted(clinic, clinic)
    number = np.arange(n) - first + 1
    study_id = np.array([f"{codes[c]}-{k:03d}" for c, k in zip(clinic, number, strict=True)])
    age = np.clip(np.rint(rng.normal(AGE_MEDIAN, AGE_SD, n)), *AGE_RANGE).astype(int)
    years_group = rng.choice(3, n, p=PAIN_YEARS_GROUPS)
    sites_group = rng.choice(3, n, p=PAIN_SITES_GROUPS)
    return {
        "study_id": study_id, "clinic": clinic, "consented_on": consented, "age": age,
        "gender": np.where(rng.random(n) < P_FEMALE, "female", "male"),
        "ethnicity": np.where(rng.random(n) < P_WHITE_BRITISH, "white_british", "non_british"),
        "education": rng.choice([e for e, _ in EDUCATION], n, p=[p for _, p in EDUCATION]),
        "years_group": years_group, "sites_group": sites_group,
        "pain_years": _pain_years(rng, years_group, age),
        "pain_sites": np.select([sites_group == 0, sites_group == 1],
                                [1, 2], np.minimum(3 + rng.poisson(0.8, n), 10)),
    }


def _pain_years(rng, group: np.ndarray, age: np.ndarray) -> np.ndarray:
    n = len(group)
    long_standing = np.maximum(np.minimum(8 + rng.geometric(1 / 8, n) - 1, age - 12), 8)
    return np.select([group == 0, group == 1],
                     [rng.integers(1, 5, n), rng.integers(5, 8, n)], long_standing)


# -- latent levels ---------------------------------------------------------------------------

def _design(patients: dict[str, np.ndarray], partnership: np.ndarray,
            severity: np.ndarray) -> np.ndarray:
    """Columns in the order of TERMS."""
    education, years, sites = (patients["education"], patients["years_group"],
                               patients["sites_group"])
    return np.column_stack([
        partnership, patients["age"], patients["gender"] == "female",
        patients["ethnicity"] == "white_british", education == "below_a_level",
        education == "a_level_or_above", severity, years == 1, years == 2,
        sites == 1, sites == 2]).astype(float)


def _population_moments(timepoint: str) -> tuple[np.ndarray, list[tuple[list[int], list[float]]],
                                                  np.ndarray]:
    """Means of TERMS, the categorical groups (positions, probabilities incl. reference),
    and the variances of the continuous terms, from the generating distributions."""
    p_mean, p_sd = PARTNERSHIP[timepoint]
    edu = [p for _, p in EDUCATION]
    means = np.array([p_mean, AGE_MEDIAN, P_FEMALE, P_WHITE_BRITISH, edu[1], edu[2],
                      SEVERITY_MEAN, PAIN_YEARS_GROUPS[1], PAIN_YEARS_GROUPS[2],
                      PAIN_SITES_GROUPS[1], PAIN_SITES_GROUPS[2]])
    groups = [([2], [1 - P_FEMALE, P_FEMALE]), ([3], [1 - P_WHITE_BRITISH, P_WHITE_BRITISH]),
              ([4, 5], edu), ([7, 8], list(PAIN_YEARS_GROUPS)),
              ([9, 10], list(PAIN_SITES_GROUPS))]
    continuous = np.array([p_sd ** 2, AGE_SD ** 2, SEVERITY_SD ** 2])
    return means, groups, continuous


def _linear_predictor_variance(beta: np.ndarray, timepoint: str) -> float:
    _, groups, continuous = _population_moments(timepoint)
    variance = float(np.sum(beta[[0, 1, 6]] ** 2 * continuous))
    for positions, probabilities in groups:
        effects = np.concatenate([[0.0], beta[positions]])
        p = np.array(probabilities)
        variance += float(p @ effects ** 2 - (p @ effects) ** 2)
    return variance


def _item_noise_variance(domain: str) -> float:
    per_item = (100 / 8) ** 2 * (PIH_ITEM_SD ** 2 + 1 / 12)  # noise and rounding
    return per_item / len(PIH_DOMAIN_ITEMS[domain])


def _correlated(rng, shape: tuple[int, ...], n_domains: int) -> np.ndarray:
    """Standard normal draws per domain sharing a common factor (DOMAIN_CORRELATION)."""
    common = rng.standard_normal(shape)[..., None]
    own = rng.standard_normal((*shape, n_domains))
    return np.sqrt(DOMAIN_CORRELATION) * common + np.sqrt(1 - DOMAIN_CORRELATION) * own


def _latent_levels(rng, patients: dict[str, np.ndarray], n_clinics: int
                   ) -> dict[str, np.ndarray]:
    """Latent levels per patient and timepoint (axis 1: 0 = baseline, 1 = follow-up)."""
    n = len(patients["age"])
    severity = SEVERITY_MEAN + SEVERITY_SD * rng.standard_normal(n)
    severity = np.column_stack([severity, severity + SEVERITY_CHANGE
                                + SEVERITY_CHANGE_SD * rng.standard_normal(n)])
    interference = (INTERFERENCE_MEAN + 0.8 * (severity - SEVERITY_MEAN)
                    + 1.5 * rng.standard_normal((n, 2)))
    z_base, z_new = rng.standard_normal(n), rng.standard_normal(n)
    z_follow = PARTNERSHIP_CORRELATION * z_base + np.sqrt(1 - PARTNERSHIP_CORRELATION ** 2) * z_new
    partnership = np.column_stack([
        PARTNERSHIP["baseline"][0] + PARTNERSHIP["baseline"][1] * z_base,
        PARTNERSHIP["followup"][0] + PARTNERSHIP["followup"][1] * z_follow])
    domains = list(TABLE2)
    u_clinic = _correlated(rng, (n_clinics,), len(domains))[patients["clinic"]]
    u_patient = _correlated(rng, (n,), len(domains))
    e_occasion = _correlated(rng, (n, 2), len(domains))
    pih = {}
    for k, domain in enumerate(domains):
        pih[domain] = _domain_level(domain, patients, partnership, severity[:, 0],
                                    u_clinic[:, k], u_patient[:, k], e_occasion[:, :, k])
    return {"severity": severity, "interference": interference, "partnership": partnership,
            **pih}


def _domain_level(domain: str, patients, partnership: np.ndarray, baseline_severity: np.ndarray,
                  z_clinic: np.ndarray, z_patient: np.ndarray, z_occasion: np.ndarray
                  ) -> np.ndarray:
    beta = np.array(TABLE2[domain])
    (mean_b, sd_b), (mean_f, sd_f) = PIH_TARGETS[domain]
    left = [sd ** 2 - _linear_predictor_variance(beta, timepoint) - _item_noise_variance(domain)
            for sd, timepoint in ((sd_b, "baseline"), (sd_f, "followup"))]
    left = [max(value, (0.2 * sd) ** 2) for value, sd in zip(left, (sd_b, sd_f), strict=True)]
    var_clinic, var_patient = CLINIC_SHARE * min(left), PATIENT_SHARE * min(left)
    levels = []
    for t, (timepoint, target) in enumerate((("baseline", mean_b), ("followup", mean_f))):
        means, _, _ = _population_moments(timepoint)
        means[6] = SEVERITY_MEAN  # the model uses baseline severity at both timepoints
        x = _design(patients, partnership[:, t], baseline_severity)
        var_occasion = left[t] - var_clinic - var_patient
        levels.append(target + (x - means) @ beta + np.sqrt(var_clinic) * z_clinic
                      + np.sqrt(var_patient) * z_patient
                      + np.sqrt(var_occasion) * z_occasion[:, t])
    return np.column_stack(levels)


# -- items and administrations ---------------------------------------------------------------

def _items_around(rng, level: np.ndarray, n_items: int, sd: float, minimum: int,
                  maximum: int, offsets: np.ndarray | None = None) -> np.ndarray:
    noise = sd * rng.standard_normal((len(level), n_items))
    shifted = level[:, None] + (0 if offsets is None else offsets[None, :]) + noise
    return np.clip(np.rint(shifted), minimum, maximum).astype(np.int16)


def _answers(rng, latent: dict[str, np.ndarray], t: int, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Item answers of the given patients at timepoint t; -1 = not answered."""
    answers: dict[str, np.ndarray] = {}
    severity = _items_around(rng, latent["severity"][rows, t], 4, 0.7, 0, 10,
                             offsets=np.array([1.6, -1.9, 0.1, 0.2]))
    interference = _items_around(rng, latent["interference"][rows, t], 7, 0.9, 0, 10)
    ppic = _items_around(rng, latent["partnership"][rows, t] / 11, 11, 0.45, 1, 5)
    for codes, block in ((BPI.item_codes[:4], severity), (BPI.item_codes[4:], interference),
                         (PPIC.item_codes, ppic)):
        answers.update({code: block[:, j] for j, code in enumerate(codes)})
    for domain, codes in PIH_DOMAIN_ITEMS.items():
        block = _items_around(rng, latent[domain][rows, t] * 8 / 100, len(codes),
                              PIH_ITEM_SD, 0, 8)
        answers.update({code: block[:, j] for j, code in enumerate(codes)})
    ordered = {code: answers[code] for code in (*BPI.item_codes, *PPIC.item_codes,
                                                 *PIH.item_codes)}
    for values in ordered.values():
        values[rng.random(len(values)) < MISSING_ITEM_RATE] = -1
    return ordered


def _followup_days(rng, n: int) -> np.ndarray:
    inside = rng.integers(76, 121, n)
    outside = np.where(rng.random(n) < 0.5, rng.integers(55, 76, n), rng.integers(121, 151, n))
    return np.where(rng.random(n) < 0.05, outside, inside)


def _exact_share(rng, among: np.ndarray, share: float) -> np.ndarray:
    """A random subset of exactly round(share x count) of the True positions of `among`."""
    positions = np.flatnonzero(among)
    chosen = rng.permutation(positions)[:round(share * len(positions))]
    result = np.zeros(len(among), dtype=bool)
    result[chosen] = True
    return result


def _administrations(rng, patients: dict[str, np.ndarray], latent: dict[str, np.ndarray],
                     end: int) -> dict[str, np.ndarray]:
    n = len(patients["age"])
    consented = patients["consented_on"]
    window_closed = consented + 120 < end
    # Exact shares within the closed and the open windows, so that even a cohort of 147
    # has 70 % followed up among those whose window has passed.
    attends = _exact_share(rng, window_closed, FOLLOWED_UP) | _exact_share(
        rng, ~window_closed, FOLLOWED_UP)
    followup_on = consented + _followup_days(rng, n)
    done = attends & (followup_on <= end)
    lost = ~attends & window_closed
    did_not_attend = _exact_share(rng, lost, DID_NOT_ATTEND_SHARE)
    patients["followup_status"] = np.select([done, lost], ["completed", "lost"], "active")
    patients["lost_reason"] = np.where(lost, np.where(did_not_attend, "did_not_attend",
                                                      "discharged"), "")
    followed = np.flatnonzero(done)
    baseline_answers = _answers(rng, latent, 0, np.arange(n))
    followup_answers = _answers(rng, latent, 1, followed)
    rows = np.concatenate([np.arange(n), followed])
    timepoint = np.array(["baseline"] * n + ["followup"] * len(followed))
    # Each patient's baseline, then follow-up: the order the clinic would enter them in.
    order = np.lexsort((timepoint, rows))
    result = {"patient": rows[order], "timepoint": timepoint[order],
              "administered_on": np.concatenate([consented, followup_on[followed]])[order]}
    for code in baseline_answers:
        result[code] = np.concatenate([baseline_answers[code], followup_answers[code]])[order]
    return result
