"""The baseline characteristics, each defined once (DESIGN.md, "Cohort CSV").

A patient's age, gender, ethnicity, education, years of pain and number of pain sites come
from the clinical record. Their names, labels, ranges and categories live here only: the
model fields and their validators, the database check constraints, the forms, the cohort
import and the codebook all read this table, so nobody writes 18 or 110 again.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class Gender(models.TextChoices):
    MALE = "male", "Male"
    FEMALE = "female", "Female"
    OTHER = "other", "Other"


class Ethnicity(models.TextChoices):
    WHITE_BRITISH = "white_british", "White British"
    NON_BRITISH = "non_british", "Non-British"


class Education(models.TextChoices):
    NONE = "none", "No qualifications"
    BELOW_A_LEVEL = "below_a_level", "Below A level"
    A_LEVEL_OR_ABOVE = "a_level_or_above", "A level and above"


@dataclass(frozen=True)
class Characteristic:
    """One baseline characteristic: a whole number in [minimum, maximum], or a category.

    Every characteristic is optional (empty = not recorded). `label` is the model field's
    verbose_name (forms show it with a capital letter); `hint` is the help text a form shows.
    """

    code: str
    label: str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[tuple[str, str], ...] = field(default=())
    hint: str = ""

    @property
    def is_number(self) -> bool:
        return not self.choices

    @property
    def values(self) -> tuple[str, ...]:
        """The category codes (empty for a number)."""
        return tuple(code for code, _ in self.choices)

    @property
    def allowed(self) -> str:
        """The allowed values in words, e.g. '18-110' or 'male = Male; female = Female'."""
        if self.is_number:
            return f"{self.minimum}-{self.maximum}"
        return "; ".join(f"{code} = {label}" for code, label in self.choices)

    def validators(self) -> list:
        """The model field's validators: a number's range (categories use `choices`)."""
        if not self.is_number:
            return []
        return [MinValueValidator(self.minimum), MaxValueValidator(self.maximum)]

    def check_constraint(self) -> models.CheckConstraint:
        """The database's guard: NULL/empty (not recorded) or an allowed value."""
        if self.is_number:
            condition = Q(**{f"{self.code}__isnull": True}) | Q(
                **{f"{self.code}__gte": self.minimum, f"{self.code}__lte": self.maximum})
            return models.CheckConstraint(condition=condition, name=f"patient_{self.code}_range")
        return models.CheckConstraint(condition=Q(**{f"{self.code}__in": ["", *self.values]}),
                                      name=f"patient_{self.code}_valid")


AGE = Characteristic("age", "age at baseline (years)", minimum=18, maximum=110,
                     hint="Whole years, 18 to 110.")
GENDER = Characteristic("gender", "gender", choices=tuple(Gender.choices))
ETHNICITY = Characteristic("ethnicity", "ethnicity", choices=tuple(Ethnicity.choices))
EDUCATION = Characteristic("education", "education", choices=tuple(Education.choices))
PAIN_YEARS = Characteristic("pain_years", "years of back pain", minimum=0, maximum=80,
                            hint="Whole years, 0 to 80.")
PAIN_SITES = Characteristic("pain_sites", "number of pain sites", minimum=1, maximum=20,
                            hint="1 to 20.")

# In the order of the cohort CSV's columns and of the forms.
CHARACTERISTICS: tuple[Characteristic, ...] = (
    AGE, GENDER, ETHNICITY, EDUCATION, PAIN_YEARS, PAIN_SITES)
CHARACTERISTIC_CODES: tuple[str, ...] = tuple(c.code for c in CHARACTERISTICS)
CHARACTERISTICS_BY_CODE: dict[str, Characteristic] = {c.code: c for c in CHARACTERISTICS}
