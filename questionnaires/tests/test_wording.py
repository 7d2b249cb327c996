"""Loading licensed item wording: all or nothing, errors by line."""
import pytest
from django.core.management import CommandError, call_command

from questionnaires.models import ItemWording
from questionnaires.wording import item_wordings

pytestmark = pytest.mark.django_db


def write(tmp_path, text):
    path = tmp_path / "wording.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_wording_is_loaded_by_item_code(tmp_path):
    call_command("load_item_wording", write(tmp_path, "code,wording\npih_1,Full text one\n"))
    assert item_wordings() == {"pih_1": "Full text one"}


def test_unknown_code_is_reported_with_its_line_and_nothing_is_loaded(tmp_path):
    path = write(tmp_path, "code,wording\npih_1,Full text\npih_99,Other\n")
    with pytest.raises(CommandError, match="line 3, column code: unknown item code 'pih_99'"):
        call_command("load_item_wording", path)
    assert not ItemWording.objects.exists()


def test_loading_again_replaces_the_wording(tmp_path):
    call_command("load_item_wording", write(tmp_path, "code,wording\nbpi_worst,Old\n"))
    call_command("load_item_wording", write(tmp_path, "code,wording\nbpi_worst,New\n"))
    assert item_wordings() == {"bpi_worst": "New"}


def test_entry_page_shows_loaded_wording_under_the_short_label(tmp_path, client, nurse_a,
                                                               make_patient):
    from django.urls import reverse

    call_command("load_item_wording",
                 write(tmp_path, "code,wording\nbpi_worst,Licensed wording of item one\n"))
    patient = make_patient()
    client.force_login(nurse_a)
    response = client.get(reverse("questionnaires:entry", args=[patient.study_id, "baseline"]))
    assert response.status_code == 200
    assert "Licensed wording of item one" in response.content.decode()
