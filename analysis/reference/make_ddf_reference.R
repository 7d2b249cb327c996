#!/usr/bin/env Rscript
# Reference Satterthwaite (lmerTest) and Kenward-Roger (pbkrtest) results for
# analysis/tests/test_multilevel_ddf.py.
#
#   Rscript analysis/reference/make_ddf_reference.R      (from the project root)
#
# Reads analysis/tests/data/ddf/manifest.json (written by
# `python -m analysis.reference.ddf_datasets`), fits every model by REML with lmer, random
# intercepts for each level (an inner level nested in the outer one: (1|outer) +
# (1|outer:inner)), and writes analysis/tests/data/ddf/reference.json: per coefficient the
# estimate, SE, df, t, p and 95 % CI under Satterthwaite (summary(ddf = "Satterthwaite"))
# and Kenward-Roger (summary(ddf = "Kenward-Roger"), which takes pbkrtest's vcovAdj SE
# and get_Lb_ddf df), the REML variances, and the R and package versions.
# It also copies lme4's sleepstudy into the data folder (Belenky et al. 2003, lme4).
suppressPackageStartupMessages({
  library(lmerTest); library(pbkrtest); library(jsonlite)
})
data_dir <- "analysis/tests/data"
write.csv(lme4::sleepstudy, file.path(data_dir, "ddf", "sleepstudy.csv"), row.names = FALSE)
manifest <- fromJSON(file.path(data_dir, "ddf", "manifest.json"), simplifyVector = FALSE)

random_part <- function(levels) {
  if (length(levels) == 1) return(sprintf("(1 | %s)", levels[[1]]))
  sprintf("(1 | %s) + (1 | %s:%s)", levels[[1]], levels[[1]], levels[[2]])
}

table_of <- function(fit, ddf) {
  coefs <- summary(fit, ddf = ddf)$coefficients
  lapply(setNames(rownames(coefs), rownames(coefs)), function(term) {
    half <- qt(0.975, coefs[term, "df"]) * coefs[term, "Std. Error"]
    list(estimate = coefs[term, "Estimate"], se = coefs[term, "Std. Error"],
         df = coefs[term, "df"], t = coefs[term, "t value"], p = coefs[term, "Pr(>|t|)"],
         ci_low = coefs[term, "Estimate"] - half, ci_high = coefs[term, "Estimate"] + half)
  })
}

fit_one <- function(model) {
  message(model$name)
  data <- read.csv(file.path(data_dir, model$data))
  for (level in model$levels) data[[level]] <- factor(data[[level]])
  formula <- as.formula(paste(model$formula, "+", random_part(model$levels)))
  fit <- lmer(formula, data = data, REML = TRUE,
              control = lmerControl(optimizer = "bobyqa",
                                    optCtrl = list(maxfun = 1e5)))
  vc <- as.data.frame(VarCorr(fit))
  list(name = model$name, data = model$data, formula = deparse1(formula),
       singular = isSingular(fit), reml_criterion = unname(REMLcrit(fit)),
       variances = setNames(as.list(vc$vcov), vc$grp),
       satterthwaite = table_of(fit, "Satterthwaite"),
       kenward_roger = table_of(fit, "Kenward-Roger"))
}

out <- list(
  source = "analysis/reference/make_ddf_reference.R",
  versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                  lmerTest = as.character(packageVersion("lmerTest")),
                  pbkrtest = as.character(packageVersion("pbkrtest")),
                  Matrix = as.character(packageVersion("Matrix"))),
  models = lapply(manifest$models, fit_one))
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
      file.path(data_dir, "ddf", "reference.json"))
