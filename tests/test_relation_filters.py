"""A list filter on a related record (房屋, 客户, 负责人) searches as one types: the page does not carry
every unit and customer, the record a filter names is its one option, shown by its field levels."""

import json
import re

from app.extensions import db
from app.models import FieldPermission
from tests import factories
from tests.test_renovation import application


def _filter_boxes(html):
    """The filter boxes FAB's script is given (labels, boxes, operations, active filters), as one text."""
    arguments = re.search(r"new AdminFilters\(\s*'#filter_form',(.*?)\);", html, re.S)[1]
    return json.dumps(json.loads(f"[{arguments}]"), ensure_ascii=False)


def test_the_filter_boxes_carry_no_list_of_every_record(login, ctx):
    first = application(customer=factories.customer(name="甲乙丙住户"))
    application(customer=factories.customer(name="丁戊己住户"))
    html = login("Manager").get("/renovationview/list/").get_data(as_text=True)
    boxes = _filter_boxes(html)
    assert "crm-ajax-select" in boxes and "/lookup/customer" in boxes and "/lookup/unit" in boxes
    assert "甲乙丙住户" not in boxes and "丁戊己住户" not in boxes
    assert first.unit.number not in boxes


def test_a_chosen_record_is_the_filters_one_option_and_narrows_the_list(login, ctx):
    first = application(customer=factories.customer(name="甲乙丙住户"))
    application(customer=factories.customer(name="丁戊己住户"))
    html = login("Manager").get(f"/renovationview/list/?_flt_0_customer={first.customer_id}").get_data(as_text=True)
    boxes = _filter_boxes(html)
    assert f'value=\\"{first.customer_id}\\" selected>甲乙丙住户' in boxes
    assert "丁戊己住户" not in boxes
    table = html.split('<table class="table', 1)[1]
    assert "甲乙丙住户" in table and "丁戊己住户" not in table


def test_a_chosen_record_is_shown_by_its_field_levels(app, login, ctx):
    first = application(customer=factories.customer(name="欧阳明月"))
    manager = app.appbuilder.sm.find_role("Manager")
    db.session.add(FieldPermission(role_id=manager.id, resource="Customer", field="name", level="masked"))
    db.session.commit()
    html = login("Manager").get(f"/renovationview/list/?_flt_0_customer={first.customer_id}").get_data(as_text=True)
    assert "欧阳明月" not in _filter_boxes(html)


def test_a_filter_naming_no_record_gives_an_empty_box_not_an_error(login, ctx):
    application()
    for value in ("999999", "abc", ""):
        response = login("Manager").get(f"/renovationview/list/?_flt_0_customer={value}")
        assert response.status_code == 200


def test_the_filter_boxes_follow_the_language_and_a_new_tag_at_the_next_page(login, ctx):
    """The boxes' HTML is kept between pages: per language, and never for a box that lists records."""
    client = login("Service")
    chinese = _filter_boxes(client.get("/customerview/list/").get_data(as_text=True))
    assert "正常" in chinese and "新标签甲" not in chinese
    factories.tag(name="新标签甲")
    db.session.commit()
    assert "新标签甲" in _filter_boxes(client.get("/customerview/list/").get_data(as_text=True))
    client.get("/lang/en")
    english = _filter_boxes(client.get("/customerview/list/").get_data(as_text=True))
    assert "Active" in english and "正常" not in english
