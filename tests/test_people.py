"""One rule for a person's name, wherever it shows."""

from types import SimpleNamespace

from app.core.people import person_name
from app.models import StaffProfile


def test_family_name_first_in_chinese():
    assert person_name(SimpleNamespace(first_name="丽娟", last_name="李")) == "李丽娟"
    assert person_name(SimpleNamespace(first_name="Ann", last_name="Lee")) == "Ann Lee"


def test_staff_profiles_read_the_same_way():
    user = SimpleNamespace(first_name="丽娟", last_name="李")
    assert str(StaffProfile(user=None)) == ""
    profile = StaffProfile()
    profile.__dict__["user"] = user  # a loaded relation, without a session
    assert str(profile) == "李丽娟"
