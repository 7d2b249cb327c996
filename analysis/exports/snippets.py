"""R and Stata code that loads the cohort CSV and reproduces the dashboard's Table 2.

Each snippet has three parts: (1) load the CSV with the codebook's types; (2) build the
derived variables exactly as analysis/stats/cohort.py and regression.py derive them (the
completer flag, baseline pain severity on both rows, the years-of-pain and pain-sites
groups and their dummies, the analysed rows of each outcome under the population rule,
the patient mean of partnership over those rows and the deviation from it, and, when the
file has the follow-up columns, the attrition groups); (3) fit every Table 2 model (5
outcomes x 3 variants) as the dashboard does: random intercepts for clinic and patient
within clinic, ML by default (Stata `mixed ..., ml` with `estat icc`; R `lmer(...,
REML = FALSE)`). The term names, outcomes and variants come from regression.py, so a
changed model changes the snippets. Derivations run on the codes, before the category
columns are labelled.
"""
from __future__ import annotations

from patients.models import FollowUpStatus

from ..stats.regression import COVARIATES, PATIENT_VARIABLES, VARIANT_TERMS
from ..stats.results import DEFAULT_OPTIONS, OUTCOMES, POPULATIONS, VARIANTS
from .codebook import (
    CATEGORY,
    DATE,
    FLOAT,
    FOLLOWUP_COLUMNS,
    INTEGER,
    Column,
    cohort_columns,
)

# Patient-level variables whose absence drops the patient (regression.PATIENT_VARIABLES),
# and baseline pain severity.
PATIENT_LEVEL = [*(name for name, _ in PATIENT_VARIABLES), "baseline_severity"]
R_RESULTS_FILE = "paincohort_table2_R.csv"


def _r_class(column: Column) -> str:
    return {INTEGER: "integer", FLOAT: "numeric", DATE: "Date"}.get(column.type, "character")


def _r_vector(values) -> str:
    return "c(" + ", ".join(f'"{value}"' for value in values) + ")"


def r_snippet() -> str:
    """R (lme4 for the models) that loads the CSV, derives and fits Table 2."""
    return "\n".join([*_r_load(), "", *_r_derive(), "", *_r_models(), "", *_r_labels(),
                      "str(cohort)"]) + "\n"


def _r_load() -> list[str]:
    columns = cohort_columns()
    classes = ",\n".join(f'    {column.name} = "{_r_class(column)}"' for column in columns)
    return [
        "# PainCohort cohort CSV: one row per administration (patient x timepoint).",
        "# Column meanings, ranges and scoring rules: paincohort_codebook.csv.",
        "# 1. Load, with the codebook's types.",
        'cohort <- read.csv("paincohort_cohort.csv", na.strings = "", encoding = "UTF-8",',
        "  colClasses = c(",
        classes,
        "  ))",
    ]


def _r_derive() -> list[str]:
    dummies = [
        ("female", "gender", "female"), ("gender_other", "gender", "other"),
        ("white_british", "ethnicity", "white_british"),
        ("education_below_a_level", "education", "below_a_level"),
        ("education_a_level_or_above", "education", "a_level_or_above"),
        ("pain_years_5to7", "pain_years_group", "5to7"),
        ("pain_years_ge8", "pain_years_group", "ge8"),
        ("pain_sites_2", "pain_sites_group", "2"), ("pain_sites_ge3", "pain_sites_group", "ge3"),
    ]
    return [
        "# 2. Derived variables, as PainCohort's analysis builds them (on the codes).",
        f'population <- "{DEFAULT_OPTIONS["population"]}"   # or '
        + " or ".join(f'"{key}"' for key in POPULATIONS if key != DEFAULT_OPTIONS["population"]),
        f"reml <- {'TRUE' if DEFAULT_OPTIONS['reml'] else 'FALSE'}   # the study: ML",
        'baseline <- cohort[cohort$timepoint == "baseline", ]',
        'followup_ids <- cohort$study_id[cohort$timepoint == "followup"]',
        "# a completer has a complete baseline and a complete follow-up (the file holds only",
        "# complete questionnaires)",
        "cohort$completer <- cohort$study_id %in% baseline$study_id & "
        "cohort$study_id %in% followup_ids",
        'cohort$followup <- as.numeric(cohort$timepoint == "followup")',
        "# baseline pain severity (BPI) on both rows of the patient",
        "cohort$baseline_severity <- baseline$bpi_severity[match(cohort$study_id, "
        "baseline$study_id)]",
        "cohort$pain_years_group <- as.character(cut(cohort$pain_years, "
        'c(-1, 4, 7, Inf), labels = c("le4", "5to7", "ge8")))   # <= 4, 5-7, >= 8 years',
        "cohort$pain_sites_group <- as.character(cut(cohort$pain_sites, "
        'c(0, 1, 2, Inf), labels = c("1", "2", "ge3")))   # 1, 2, >= 3 sites',
        "cohort$partnership <- cohort$ppic_partnership",
        "dummy <- function(x, level) ifelse(is.na(x), NA, as.numeric(x == level))",
        "# references: male, non-British, no qualifications, <= 4 years, 1 site",
        *[f'cohort${name} <- dummy(cohort${source}, "{level}")'
          for name, source, level in dummies],
        "# a patient without any of these is in no model (Stata's mixed drops such rows)",
        f"patient_ok <- complete.cases(cohort[, {_r_vector(PATIENT_LEVEL)}])",
        'in_population <- if (population == "all_available") rep(TRUE, nrow(cohort)) else '
        "cohort$completer",
        "# the rows an outcome's models analyse, with partnership split into the patient's",
        "# mean over those rows (between) and the deviation from it (within)",
        "analysed <- function(outcome) {",
        "  keep <- in_population & patient_ok & !is.na(cohort$partnership) & "
        "!is.na(cohort[[outcome]])",
        '  if (population == "completers_both_rows")',
        "    keep <- keep & ave(as.numeric(keep), cohort$study_id, FUN = sum) == 2",
        "  rows <- cohort[keep, ]",
        "  rows$partnership_between <- ave(rows$partnership, rows$study_id)",
        "  rows$partnership_within <- rows$partnership - rows$partnership_between",
        "  rows",
        "}",
        *_r_attrition(),
    ]


def _r_attrition() -> list[str]:
    """Completers against patients lost to follow-up, when the file has the columns."""
    active = FollowUpStatus.ACTIVE.value
    return [
        "# attrition: completers against patients without a follow-up who are no longer",
        f'# "{active}" (still active = not yet due, in neither group)',
        f"if (all({_r_vector(FOLLOWUP_COLUMNS)} %in% names(cohort))) {{",
        "  cohort$attrition_group <- ifelse(cohort$completer, \"completers\",",
        f'    ifelse(cohort$followup_status != "{active}", "lost", NA))',
        '  lost <- cohort$attrition_group %in% "lost" & cohort$timepoint == "baseline"',
        '  print(table(cohort$lost_reason[lost], useNA = "ifany"))   # why they were lost',
        "}",
    ]


def _r_models() -> list[str]:
    covariates = " + ".join(COVARIATES)
    variants = ",\n".join(
        f'  {variant["key"]} = "{" + ".join(VARIANT_TERMS[variant["key"]])} + {covariates}"'
        for variant in VARIANTS)
    return [
        "# 3. Table 2: every outcome x variant, random intercepts for clinic and for patient",
        "# within clinic, ML as the dashboard (lme4; lmerTest or pbkrtest add Satterthwaite",
        "# or Kenward-Roger degrees of freedom to REML fits).",
        "library(lme4)",
        f"outcomes <- {_r_vector(key for key, _ in OUTCOMES)}",
        "variants <- c(",
        variants,
        ")",
        "# lme4's default tolerances stop short of the maximum when the likelihood is flat",
        "# (few clinics): by up to 1e-3 in a coefficient. PainCohort's fitter, like Stata,",
        "# iterates to convergence; these tolerances reach the same maximum.",
        "tight <- lmerControl(optimizer = \"nloptwrap\", optCtrl = list(ftol_abs = 1e-14,",
        "  ftol_rel = 1e-14, xtol_abs = 1e-12, xtol_rel = 1e-12, maxeval = 1e5))",
        "results <- list()",
        "for (outcome in outcomes) {",
        "  rows <- analysed(outcome)",
        "  for (variant in names(variants)) {",
        "    formula <- as.formula(paste(outcome, \"~\", variants[[variant]],",
        '                                "+ (1 | clinic) + (1 | clinic:study_id)"))',
        "    # a term without variation in the rows (e.g. no 'other' gender) is dropped by",
        "    # lmer as rank deficient, as PainCohort leaves it out of the formula",
        "    fit <- lmer(formula, data = rows, REML = reml, control = tight)",
        "    vc <- as.data.frame(VarCorr(fit))",
        '    v <- c(clinic = vc$vcov[vc$grp == "clinic"],',
        '           patient = vc$vcov[vc$grp == "clinic:study_id"],',
        '           residual = vc$vcov[vc$grp == "Residual"])',
        "    fixed <- summary(fit)$coefficients",
        "    results[[length(results) + 1]] <- data.frame(",
        "      outcome = outcome, variant = variant, term = rownames(fixed),",
        '      coef = fixed[, "Estimate"], se = fixed[, "Std. Error"], n_obs = nobs(fit),',
        "      var_clinic = v[[\"clinic\"]], var_patient = v[[\"patient\"]],",
        "      var_residual = v[[\"residual\"]],",
        "      # Stata's estat icc: clinic, and patient|clinic (pools clinic and patient)",
        "      icc_clinic = v[[\"clinic\"]] / sum(v),",
        "      icc_patient = (v[[\"clinic\"]] + v[[\"patient\"]]) / sum(v),",
        "      loglik = as.numeric(logLik(fit)), row.names = NULL)",
        "  }",
        "}",
        "table2 <- do.call(rbind, results)",
        "print(table2, digits = 4)",
        f'write.csv(table2, "{R_RESULTS_FILE}", row.names = FALSE)',
    ]


def _r_labels() -> list[str]:
    lines = ["# 4. Labels of the category columns (after the derivations, which use the codes)."]
    for column in cohort_columns():
        if column.type == CATEGORY:
            codes = ", ".join(f'"{code}"' for code, _ in column.categories)
            labels = ", ".join(f'"{label}"' for _, label in column.categories)
            lines.append(f"cohort${column.name} <- factor(cohort${column.name}, "
                         f"levels = c({codes}), labels = c({labels}))")
    return lines


def stata_label(text: str) -> str:
    return text.replace('"', "'")[:80]


def stata_snippet() -> str:
    """A Stata do-file: import with types, dates and labels, derive, fit Table 2."""
    return "\n".join([*_stata_load(), "", *_stata_derive(), "", *_stata_models(), "",
                      *_stata_labels(), "describe"]) + "\n"


def _stata_load() -> list[str]:
    columns = cohort_columns()
    positions = {column.name: number for number, column in enumerate(columns, start=1)}
    strings = " ".join(str(positions[c.name]) for c in columns if not c.is_numeric)
    numbers = " ".join(str(positions[c.name]) for c in columns if c.is_numeric)
    return [
        "* PainCohort cohort CSV: one row per administration (patient x timepoint).",
        "* Column meanings, ranges and scoring rules: paincohort_codebook.csv.",
        "* 1. Import, with the codebook's types.",
        'import delimited using "paincohort_cohort.csv", varnames(1) encoding("utf-8") ///',
        f"    bindquote(strict) stringcols({strings}) numericcols({numbers}) clear",
        'generate administered_on_d = date(administered_on, "YMD")',
        "format administered_on_d %td",
        "order administered_on_d, after(administered_on)",
        "drop administered_on",
        "rename administered_on_d administered_on",
    ]


def _stata_derive() -> list[str]:
    others = " or ".join(f'"{key}"' for key in POPULATIONS if key != DEFAULT_OPTIONS["population"])
    dummies = [
        ("female", 'gender == "female" if gender != ""'),
        ("gender_other", 'gender == "other" if gender != ""'),
        ("white_british", 'ethnicity == "white_british" if ethnicity != ""'),
        ("education_below_a_level", 'education == "below_a_level" if education != ""'),
        ("education_a_level_or_above", 'education == "a_level_or_above" if education != ""'),
        ("pain_years_5to7", "pain_years_group == 2 if !missing(pain_years_group)"),
        ("pain_years_ge8", "pain_years_group == 3 if !missing(pain_years_group)"),
        ("pain_sites_2", "pain_sites_group == 2 if !missing(pain_sites_group)"),
        ("pain_sites_ge3", "pain_sites_group == 3 if !missing(pain_sites_group)"),
    ]
    active = FollowUpStatus.ACTIVE.value
    return [
        "* 2. Derived variables, as PainCohort's analysis builds them (on the codes).",
        f'local population "{DEFAULT_OPTIONS["population"]}"   // or {others}',
        f'local method "{"reml" if DEFAULT_OPTIONS["reml"] else "ml"}"   // the study: ml',
        "* a completer has a complete baseline and a complete follow-up (the file holds",
        "* only complete questionnaires)",
        'bysort study_id: egen byte _has_baseline = max(timepoint == "baseline")',
        'bysort study_id: egen byte _has_followup = max(timepoint == "followup")',
        "generate byte completer = _has_baseline & _has_followup",
        'generate byte followup = timepoint == "followup"',
        "* baseline pain severity (BPI) on both rows of the patient",
        'generate double _severity = bpi_severity if timepoint == "baseline"',
        "bysort study_id: egen double baseline_severity = max(_severity)",
        "drop _severity _has_baseline _has_followup",
        "* <= 4, 5-7, >= 8 years of pain; 1, 2, >= 3 pain sites",
        "generate byte pain_years_group = cond(missing(pain_years), ., "
        "cond(pain_years <= 4, 1, cond(pain_years <= 7, 2, 3)))",
        'label define pain_years_group 1 "<= 4 years" 2 "5-7 years" 3 ">= 8 years"',
        "label values pain_years_group pain_years_group",
        "generate byte pain_sites_group = cond(missing(pain_sites), ., "
        "cond(pain_sites <= 1, 1, cond(pain_sites <= 2, 2, 3)))",
        'label define pain_sites_group 1 "1 site" 2 "2 sites" 3 ">= 3 sites"',
        "label values pain_sites_group pain_sites_group",
        "generate double partnership = ppic_partnership",
        "* references: male, non-British, no qualifications, <= 4 years, 1 site",
        *[f"generate byte {name} = {expression}" for name, expression in dummies],
        "* a patient without any of these is in no model",
        f"generate byte _patient_ok = !missing({', '.join(PATIENT_LEVEL)})",
        'generate byte _in_population = cond("`population\'" == "all_available", 1, completer)',
        "* integer ids of the levels",
        "egen long clinic_id = group(clinic)",
        "egen long patient_id = group(study_id)   // no value-label limit, unlike encode",
        "* attrition: completers against patients without a follow-up who are no longer",
        f'* "{active}" (still active = not yet due, in neither group)',
        "capture confirm variable followup_status lost_reason",
        "if !_rc {",
        '    generate attrition_group = cond(completer, "completers", '
        f'cond(followup_status != "{active}", "lost", ""))',
        '    tabulate lost_reason if attrition_group == "lost" & timepoint == "baseline", '
        "missing",
        "}",
    ]


def _stata_models() -> list[str]:
    covariates = " ".join(COVARIATES)
    lines = [
        "* 3. Table 2: every outcome x variant, random intercepts for clinic and for",
        "* patient within clinic, as the dashboard (ml; with reml, add dfmethod(kroger)",
        "* or dfmethod(satterthwaite) for Kenward-Roger or Satterthwaite inference).",
        f"global covariates {covariates}",
        f"foreach y in {' '.join(key for key, _ in OUTCOMES)} {{",
        "    * the rows this outcome's models analyse",
        "    generate byte _use = _in_population & _patient_ok & !missing(partnership, `y')",
        '    if "`population\'" == "completers_both_rows" {',
        "        bysort study_id: egen byte _rows = total(_use)",
        "        replace _use = _use & _rows == 2",
        "        drop _rows",
        "    }",
        "    * partnership split into the patient's mean over those rows and the deviation",
        "    bysort study_id: egen double partnership_between = mean(cond(_use, partnership, .))",
        "    generate double partnership_within = partnership - partnership_between",
    ]
    for variant in VARIANTS:
        terms = " ".join(VARIANT_TERMS[variant["key"]])
        lines += [
            f'    display as text _newline "`y\': {variant["label"]}"',
            f"    mixed `y' {terms} $covariates if _use || clinic_id: || patient_id:, "
            "`method'",
            "    estat icc",
        ]
    lines += ["    drop _use partnership_between partnership_within", "}"]
    return lines


def _stata_labels() -> list[str]:
    lines = ["* 4. Value and variable labels (after the derivations, which use the codes)."]
    columns = cohort_columns()
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
    return lines
