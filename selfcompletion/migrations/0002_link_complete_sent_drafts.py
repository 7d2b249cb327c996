"""Complete the questionnaires a patient sent with items missing (issue 14).

Until this release a link or tablet questionnaire sent with any item blank was stored as
a Draft; the link was used up, so the patient could never finish it, and drafts are
neither exported nor counted. Such an administration is found without ambiguity: an
invitation records its submission (submitted_at) and the administration it made, the
administration is still a draft from the same channel, and its latest history record is
that submission (nobody has edited it since). Each is made complete as the fixed
submission would have made it: the items without an answer get their reason from the
invitation's draft, the version goes up (an open edit form is stale), a history record
says why, and a follow-up marks the patient's follow-up completed unless they withdrew.
Scores need no recomputing: they are computed on every save, drafts included.

Anything else stays as it is (a nurse's own draft, or one edited after the submission).
"""
from django.db import migrations
from django.utils import timezone

REASON = "completed: sent by the patient with items missing (data migration, issue 14)"
SUBMITTED_REASON = "completed by the patient"
SKIP = "skip"


def _history_row(history_model, instance, *, now, reason):
    names = {field.attname for field in history_model._meta.concrete_fields}
    values = {field.attname: getattr(instance, field.attname)
              for field in instance._meta.concrete_fields if field.attname in names}
    return history_model(**values, history_date=now, history_type="~",
                         history_change_reason=reason, history_user_id=None)


def _missing_reasons(administration, draft, item_codes):
    return {code: "declined" if draft.get(code) == SKIP else "not_answered"
            for code in item_codes if getattr(administration, code) is None}


def _item_codes(administration_model):
    # The item columns are the ones with a "<code>: min-max; empty = not answered." help text.
    return sorted(field.name for field in administration_model._meta.concrete_fields
                  if "empty = not answered" in str(field.help_text))


def complete_sent_drafts(apps, schema_editor):
    Invitation = apps.get_model("selfcompletion", "Invitation")
    Administration = apps.get_model("questionnaires", "Administration")
    HistoricalAdministration = apps.get_model("questionnaires", "HistoricalAdministration")
    Patient = apps.get_model("patients", "Patient")
    HistoricalPatient = apps.get_model("patients", "HistoricalPatient")
    Withdrawal = apps.get_model("patients", "Withdrawal")
    item_codes = _item_codes(Administration)
    now = timezone.now()
    sent = (Invitation.objects.filter(submitted_at__isnull=False,
                                      administration__status="draft")
            .select_related("administration").order_by("pk"))
    for invitation in sent:
        administration = invitation.administration
        latest = (HistoricalAdministration.objects.filter(id=administration.pk)
                  .order_by("-history_date", "-history_id").first())
        if administration.source != invitation.channel or latest is None or \
                not (latest.history_change_reason or "").startswith(SUBMITTED_REASON):
            continue  # edited since, or not this submission's: not ours to decide
        administration.status = "complete"
        administration.version += 1
        administration.missing_reasons = _missing_reasons(administration, invitation.draft,
                                                          item_codes)
        administration.updated_at = now
        # update(), not save(): no signal, so exactly one history record (written here)
        # whether or not the history app's receivers are connected.
        Administration.objects.filter(pk=administration.pk).update(
            status="complete", version=administration.version, updated_at=now,
            missing_reasons=administration.missing_reasons)
        _history_row(HistoricalAdministration, administration, now=now, reason=REASON).save()
        if administration.timepoint != "followup" or \
                Withdrawal.objects.filter(patient_id=administration.patient_id).exists():
            continue
        patient = Patient.objects.get(pk=administration.patient_id)
        if patient.followup_status != "completed":
            patient.followup_status, patient.lost_reason = "completed", ""
            Patient.objects.filter(pk=patient.pk).update(followup_status="completed",
                                                         lost_reason="")
            _history_row(HistoricalPatient, patient, now=now,
                         reason="follow-up completed").save()


class Migration(migrations.Migration):

    dependencies = [
        ("selfcompletion", "0001_initial"),
        ("questionnaires", "0004_link_missing_reasons"),
        ("patients", "0004_study_id_rule_no_trailing_newline"),
    ]

    operations = [
        migrations.RunPython(complete_sent_drafts, migrations.RunPython.noop),
    ]
