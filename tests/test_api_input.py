"""REST API input: a malformed argument or body answers 400 with a message that says what was wrong,
and changes nothing; a well-formed request still works and filters by the value's real type.
``_info`` describes a field in the model's own words, or not at all."""

import datetime
import json
from decimal import Decimal

import pytest

from app.extensions import db
from app.models import Bill, Customer, Ticket
from tests import factories

# a malformed q on any list: rison/JSON that does not parse or is not an object, arguments of the
# wrong type or range, unknown arguments, columns, orders and filter operators
ANY_LIST = [
    "(((",
    "!",
    "(a:",
    "1e",
    "'abc'",
    "!(1,2)",
    "5",
    "(a:b",
    '{"page": -1',
    "(nope:1)",
    "(page:a)",
    "(page:-1)",
    "(page:1.5)",
    "(page:!t)",
    "(page:!n)",
    "(page:99999999999999999999)",
    "(page_size:a)",
    "(page_size:-5)",
    "(page_size:0)",
    "(page_size:1.5)",
    '{"page_size": NaN}',
    "(order_column:nope)",
    "(order_column:5)",
    "(order_column:id,order_direction:up)",
    "(order_direction:5)",
    "(columns:nope)",
    "(columns:!(5))",
    "(columns:!(nope))",
    "(select_columns:!(nope))",
    "(columns:!(id),select_columns:!(id))",
    "(keys:nope)",
    "(keys:!(nope))",
    "(keys:!(5))",
    "(filters:a)",
    "(filters:!(a))",
    "(filters:(col:id,opr:eq,value:1))",
    "(filters:!((col:5,opr:eq,value:1)))",
    "(filters:!((col:id,opr:5,value:1)))",
    "(filters:!((col:nope,opr:eq,value:1)))",
    "(filters:!((col:id,opr:zz,value:1)))",
    "(filters:!((col:id,opr:eq)))",
    "(filters:!((opr:eq,value:1)))",
    "(filters:!((col:id,opr:eq,value:1,extra:1)))",
    "(filters:!((col:id,opr:eq,value:!n)))",
    "(filters:!((col:id,opr:eq,value:(a:1))))",
    "(filters:!((col:id,opr:eq,value:!((a:1)))))",
    "(filters:!((col:id,opr:eq,value:!(!(1)))))",
    "(filters:!((col:id,opr:eq,value:1)))",
]
LIST = {
    "customer": ANY_LIST
    + [
        "(filters:!((col:name,opr:ct,value:!(a,b))))",
        "(filters:!((col:name,opr:eq,value:!t)))",
        "(filters:!((col:name,opr:ct,value:'a\x00b')))",
        "(filters:!((col:name,opr:in,value:abc)))",
        "(filters:!((col:name,opr:crm_q,value:!(a))))",
        "(filters:!((col:birthday,opr:gt,value:abc)))",
        "(filters:!((col:birthday,opr:eq,value:5)))",
        "(filters:!((col:birthday,opr:lt,value:'2026-02-30')))",
        "(filters:!((col:tags,opr:rel_m_m,value:abc)))",
        "(filters:!((col:tags,opr:rel_m_m,value:!(abc))))",
        "(filters:!((col:tags,opr:rel_m_m,value:999999)))",
        "(filters:!((col:tags,opr:ct,value:a)))",
        "(order_column:birthday)",
    ],
    "ticket": ANY_LIST
    + [
        "(filters:!((col:customer,opr:rel_o_m,value:abc)))",
        "(filters:!((col:customer,opr:rel_o_m,value:!(1,2))))",
        "(filters:!((col:customer,opr:rel_o_m,value:1.5)))",
        "(filters:!((col:customer,opr:rel_o_m,value:99999999999999999999999)))",
        "(filters:!((col:customer,opr:nrel_o_m,value:999999)))",
        "(filters:!((col:deadline,opr:gt,value:abc)))",
        "(filters:!((col:created_at,opr:gt,value:abc)))",
        "(filters:!((col:created_at,opr:lt,value:'2026-13-01T00:00')))",
        "(filters:!((col:created_at,opr:gt,value:'0001-01-01T00:00')))",
        "(filters:!((col:deadline,opr:lt,value:'9999-12-31T23:59-10:00')))",
        "(filters:!((col:escalation_level,opr:eq,value:abc)))",
        "(filters:!((col:escalation_level,opr:gt,value:abc)))",
        "(filters:!((col:escalation_level,opr:in,value:!(a,b))))",
        "(filters:!((col:escalation_level,opr:eq,value:1.5)))",
        "(filters:!((col:escalation_level,opr:eq,value:!t)))",
        "(filters:!((col:escalation_level,opr:eq,value:99999999999999999999)))",
        "(filters:!((col:escalation_level,opr:eq,value:!(1,2))))",
        "(filters:!((col:escalation_level,opr:in,value:1)))",
        "(filters:!((col:escalation_level,opr:in,value:!(1,abc))))",
        "(filters:!((col:escalation_level,opr:in,value:!(!(1)))))",
    ],
    "bill": ANY_LIST
    + [
        "(filters:!((col:amount,opr:gt,value:abc)))",
        "(filters:!((col:amount,opr:eq,value:abc)))",
        "(filters:!((col:amount,opr:eq,value:!t)))",
        "(filters:!((col:amount,opr:gt,value:'NaN')))",
        "(filters:!((col:amount,opr:gt,value:'Infinity')))",
        "(filters:!((col:amount,opr:in,value:!(1,x))))",
        "(filters:!((col:amount,opr:gt,value:'1e-100000')))",
        "(filters:!((col:amount,opr:gt,value:1e30)))",
        "(filters:!((col:due_date,opr:lt,value:abc)))",
        "(filters:!((col:due_date,opr:lt,value:5)))",
        "(filters:!((col:unit,opr:rel_o_m,value:'1 or 1')))",
    ],
}
SHOW = [
    "(((",
    "5",
    "(columns:nope)",
    "(columns:!(5))",
    "(columns:!(nope))",
    "(keys:!(nope))",
    "(keys:nope)",
    "(page:1)",
    "(columns:!(id),select_columns:!(id))",
]
INFO = {
    "customer": [
        "(((",
        "5",
        "(keys:!(nope))",
        "(add_columns:5)",
        "(add_columns:(tags:5))",
        "(add_columns:(tags:(page:-1)))",
        "(add_columns:(tags:(page:a)))",
        "(add_columns:(tags:(page_size:-1)))",
        "(add_columns:(tags:(nope:1)))",
        "(add_columns:(nope:(page:1)))",
        "(edit_columns:(tags:(page:99999999999999999999)))",
        "(page:1)",
    ],
    "ticket": ["(add_columns:(customer:(page:-1)))", "(edit_columns:(assignee:(page_size:0)))"],
    "bill": ["(edit_columns:(unit:(page:!t)))"],
}


def _records():
    """What the bad requests must leave alone."""
    db.session.expire_all()
    rows = []
    for model in (Customer, Ticket, Bill):
        for item in db.session.query(model).order_by(model.id):
            rows.append({c.key: getattr(item, c.key) for c in model.__table__.columns if c.key != "updated_at"})
    return rows


def _check(client, failures, method, url, **kwargs):
    response = client.open(url, method=method, **kwargs)
    body = response.get_json(silent=True) or {}
    if response.status_code != 400 or not body.get("message"):
        shown = kwargs.get("query_string") or kwargs.get("json") or kwargs.get("data")
        failures.append(f"{method} {url} {shown!r:.80} -> {response.status_code} {body.get('message')!r:.120}")


@pytest.fixture
def records(ctx):
    unit = factories.unit()
    customer = factories.customer(units=[unit], tags=[factories.tag()])
    return {
        "customer": customer,
        "ticket": factories.ticket(customer=customer, unit=unit),
        "bill": factories.bill(customer, unit),
    }


@pytest.mark.parametrize("resource", ["customer", "ticket", "bill"])
def test_malformed_arguments_answer_400_with_a_message(admin_client, records, resource):
    before = _records()
    pk = records[resource].id
    failures = []
    for q in LIST[resource]:
        _check(admin_client, failures, "GET", f"/api/v1/{resource}/", query_string={"q": q})
    for q in SHOW:
        _check(admin_client, failures, "GET", f"/api/v1/{resource}/{pk}", query_string={"q": q})
    for q in INFO["customer"] + INFO[resource]:
        if resource != "customer" and "tags" in q:
            continue
        _check(admin_client, failures, "GET", f"/api/v1/{resource}/_info", query_string={"q": q})
    assert failures == [], "\n".join(failures)
    assert _records() == before


BODIES = [  # not JSON, or JSON but not an object of field values
    {"data": "{bad", "content_type": "application/json"},
    {"data": "[" * 20000 + "]" * 20000, "content_type": "application/json"},
    {"data": "", "content_type": "application/json"},
    {"data": "name=x", "content_type": "application/x-www-form-urlencoded"},
    {"data": "x"},
    {"json": [1, 2]},
    {"json": "x"},
    {"data": "null", "content_type": "application/json"},
]
FIELDS = {
    "customer": [
        {"name": 5},
        {"name": ["x"]},
        {"phone": {}},
        {"birthday": "abc"},
        {"birthday": 5},
        {"tags": "a"},
        {"tags": ["a"]},
        {"tags": [{"id": 1}]},
        {"tags": [True]},
    ],
    "ticket": [
        {"customer": "abc"},
        {"customer": 1.5},
        {"customer": True},
        {"customer": [1]},
        {"customer": 99999999999999999999},
        {"deadline": "abc"},
        {"deadline": 5},
        {"title": 7},
    ],
    "bill": [{"amount": "abc"}, {"amount": True}, {"amount": [1]}, {"due_date": "2026-02-30"}, {"unit": {"id": "x"}}],
}


@pytest.mark.parametrize("resource", ["customer", "ticket", "bill"])
def test_bodies_of_the_wrong_shape_or_type_answer_400(admin_client, records, resource):
    before = _records()
    pk = records[resource].id
    failures = []
    for kwargs in BODIES:
        for method, url in (("POST", f"/api/v1/{resource}/"), ("PUT", f"/api/v1/{resource}/{pk}")):
            response = admin_client.open(url, method=method, **kwargs)
            message = json.dumps((response.get_json(silent=True) or {}).get("message"), ensure_ascii=False)
            if response.status_code != 400 or message == "null":
                failures.append(f"{method} {url} {kwargs!r:.60} -> {response.status_code} {message:.120}")
    for fields in FIELDS[resource]:
        for method, url in (("POST", f"/api/v1/{resource}/"), ("PUT", f"/api/v1/{resource}/{pk}")):
            response = admin_client.open(url, method=method, json=fields)
            message = (response.get_json(silent=True) or {}).get("message")
            # the message names the field that has the wrong type
            if response.status_code != 400 or not isinstance(message, dict) or set(message) != set(fields):
                failures.append(f"{method} {url} {fields!r} -> {response.status_code} {message!r:.120}")
    assert failures == [], "\n".join(failures)
    assert _records() == before


def test_messages_are_in_the_staff_language(admin_client, ctx):
    response = admin_client.get("/api/v1/customer/", query_string={"q": "((("})
    assert response.status_code == 400
    assert "rison" in response.json["message"].lower() and "参数" in response.json["message"]
    response = admin_client.get("/api/v1/customer/", query_string={"q": "(filters:!((col:birthday,opr:gt,value:abc)))"})
    assert "birthday" in response.json["message"] and "日期" in response.json["message"]


def test_a_malformed_argument_from_a_stranger_is_no_server_error(app):
    client = app.test_client()
    for q in ("(((", "!", "(filters:!((col:name,opr:ct,value:!(a,b))))", "(page:-1)"):
        response = client.get("/api/v1/customer/", query_string={"q": q})
        assert response.status_code in (400, 401), q


def _ids(client, resource, q):
    response = client.get(f"/api/v1/{resource}/", query_string={"q": q})
    assert response.status_code == 200, (q, response.get_json())
    return sorted(response.json["ids"])


def test_well_formed_arguments_still_work_and_filter_by_the_real_type(admin_client, ctx, now):
    unit = factories.unit()
    tag = factories.tag()
    ann = factories.customer(name="安妮", units=[unit], tags=[tag], birthday=datetime.date(1990, 5, 1))
    bob = factories.customer(name="鲍勃", phone="13912345678")
    early = factories.ticket(customer=ann, unit=unit, escalation_level=1)
    late = factories.ticket(customer=bob, deadline=now + datetime.timedelta(days=60))
    small = factories.bill(ann, unit, amount=Decimal("99.50"), period="2026-09")
    large = factories.bill(ann, unit, amount=Decimal("1200.00"), period="2026-10")

    assert _ids(admin_client, "customer", "(filters:!((col:name,opr:ct,value:'安')))") == [ann.id]
    assert _ids(admin_client, "customer", "(filters:!((col:phone,opr:ct,value:139123)))") == [bob.id]
    assert _ids(admin_client, "customer", "(filters:!((col:name,opr:in,value:!('安妮','鲍勃'))))") == [ann.id, bob.id]
    assert _ids(admin_client, "customer", "(filters:!((col:name,opr:crm_q,value:'鲍')))") == [bob.id]
    assert _ids(admin_client, "customer", "(filters:!((col:birthday,opr:gt,value:'1989-12-31')))") == [ann.id]
    assert _ids(admin_client, "customer", f"(filters:!((col:tags,opr:rel_m_m,value:{tag.id})))") == [ann.id]
    assert _ids(admin_client, "customer", f"(filters:!((col:tags,opr:rel_m_m,value:!({tag.id}))))") == [ann.id]
    assert _ids(admin_client, "customer", "(order_column:name,order_direction:desc,page:0,page_size:1)") in (
        [ann.id],
        [bob.id],
    )
    assert _ids(admin_client, "customer", '{"filters": [{"col": "name", "opr": "eq", "value": "鲍勃"}]}') == [bob.id]

    assert _ids(admin_client, "ticket", f"(filters:!((col:customer,opr:rel_o_m,value:{bob.id})))") == [late.id]
    assert _ids(admin_client, "ticket", f"(filters:!((col:customer,opr:nrel_o_m,value:'{bob.id}')))") == [early.id]
    assert _ids(admin_client, "ticket", "(filters:!((col:escalation_level,opr:gt,value:0)))") == [early.id]
    assert _ids(admin_client, "ticket", "(filters:!((col:escalation_level,opr:eq,value:'1')))") == [early.id]
    assert _ids(admin_client, "ticket", "(filters:!((col:escalation_level,opr:in,value:!(1,'2'))))") == [early.id]
    later = (now + datetime.timedelta(days=30)).isoformat()
    assert _ids(admin_client, "ticket", f"(filters:!((col:deadline,opr:gt,value:'{later}')))") == [late.id]
    assert _ids(admin_client, "ticket", f"(filters:!((col:created_at,opr:lt,value:'{later}')))") == [early.id, late.id]

    assert _ids(admin_client, "bill", "(filters:!((col:amount,opr:gt,value:100)))") == [large.id]
    assert _ids(admin_client, "bill", "(filters:!((col:amount,opr:lt,value:'99.6')))") == [small.id]
    assert _ids(admin_client, "bill", "(filters:!((col:amount,opr:in,value:!(99.5,'1200'))))") == [small.id, large.id]
    assert _ids(admin_client, "bill", "(filters:!((col:due_date,opr:gt,value:'2000-01-01')))") == [small.id, large.id]
    assert _ids(admin_client, "bill", f"(filters:!((col:unit,opr:rel_o_m,value:{unit.id})))") == [small.id, large.id]

    shown = admin_client.get(f"/api/v1/customer/{ann.id}", query_string={"q": "(columns:!(name),keys:!(none))"})
    assert shown.status_code == 200 and shown.json["result"] == {"name": "安妮"}
    info = admin_client.get("/api/v1/ticket/_info", query_string={"q": "(add_columns:(customer:(page:0,page_size:1)))"})
    assert info.status_code == 200
    assert [c["count"] for c in info.json["add_columns"] if c["name"] == "customer"] == [2]


def test_a_boolean_filter_matches_true_and_false(admin_client, ctx, today):
    from app.models import Equipment, MaintenancePlan

    equipment = Equipment(code="E1", name="水泵", kind="water_pump", building=factories.building())
    on = MaintenancePlan(title="月保", equipment=equipment, every=1, unit="months", start_date=today, active=True)
    off = MaintenancePlan(title="停用", equipment=equipment, every=1, unit="months", start_date=today, active=False)
    db.session.add_all([equipment, on, off])
    db.session.commit()
    response = admin_client.get(
        "/api/v1/maintenance_plan/", query_string={"q": "(filters:!((col:active,opr:eq,value:abc)))"}
    )
    assert response.status_code == 400 and "active" in response.json["message"]
    for value, expected in (("!t", on), ("!f", off), ("y", on), ("n", off), ("'false'", off)):
        assert _ids(admin_client, "maintenance_plan", f"(filters:!((col:active,opr:eq,value:{value})))") == [
            expected.id
        ], value
    assert _ids(admin_client, "maintenance_plan", "(filters:!((col:active,opr:neq,value:!t)))") == [off.id]


def test_well_formed_bodies_still_save(admin_client, ctx):
    tag = factories.tag()
    response = admin_client.post(
        "/api/v1/customer/", json={"name": "王五", "phone": "13812345678", "birthday": "1990-01-31", "tags": [tag.id]}
    )
    assert response.status_code == 201, response.json
    pk = response.json["id"]
    assert admin_client.put(f"/api/v1/customer/{pk}", json={"birthday": None}).status_code == 200
    # a rule (not a type) still answers 422 with the field's message, and so does a field not taken here
    response = admin_client.put(f"/api/v1/customer/{pk}", json={"phone": "123"})
    assert response.status_code == 422 and "phone" in response.json["message"]
    response = admin_client.put(f"/api/v1/customer/{pk}", json={"nope": 1})
    assert response.status_code == 422 and "nope" in response.json["message"]


HEADER_WORDS = ("Project-Id-Version", "Content-Type", "Plural-Forms", "POT-Creation-Date")


def test_info_descriptions_are_never_the_catalogue_header(admin_client):
    from app.api import APIS

    for api in APIS:
        data = admin_client.get(f"/api/v1/{api.resource_name}/_info").get_json()
        listed = admin_client.get(f"/api/v1/{api.resource_name}/?q=(page_size:1)").get_json()
        texts = [c.get("description") or "" for key in ("add_columns", "edit_columns") for c in data[key]]
        texts += [c.get("label") or "" for key in ("add_columns", "edit_columns") for c in data[key]]
        texts += list(listed["description_columns"].values())
        for text in texts:
            assert not any(word in text for word in HEADER_WORDS), (api.resource_name, text)
        assert all(c.get("label") for key in ("add_columns", "edit_columns") for c in data[key])


def test_info_descriptions_come_from_the_model(app, ctx):
    from app.api import _api
    from app.models import Tag

    declared = {"name": "名称，唯一", "color": "颜色"}
    Tag.__table__.columns["name"].info["description"] = declared["name"]
    Tag.__table__.columns["color"].doc = declared["color"]
    try:
        api = _api(Tag, "tag_described", ["name", "color"], ["name", "color", "description"], ("name",))()
        api._init_model_schemas()
        with app.test_request_context():
            fields = {f["name"]: f for f in api._get_fields_info(api.add_columns, api.add_model_schema, {})}
    finally:
        del Tag.__table__.columns["name"].info["description"]
        Tag.__table__.columns["color"].doc = None
    assert {name: fields[name].get("description") for name in declared} == declared
    assert "description" not in fields["description"]
