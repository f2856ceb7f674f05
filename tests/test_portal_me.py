"""我的信息: a resident's own details, preferred channel and family members, and nobody else's."""

from sqlalchemy import select

from app.extensions import db
from app.models import ChangeLog, Customer, CustomerUnit, PortalFamilyLink
from tests import factories


def _home(session):
    """王秀英 owns unit A and rents unit B; 李建国 owns unit C (another resident)."""
    unit_a, unit_b, unit_c = factories.unit(number="1201"), factories.unit(number="0302"), factories.unit(number="0808")
    me = factories.customer(name="王秀英", phone="13912345678", email="wang@example.com")
    me.units.append(CustomerUnit(unit=unit_a, relation="owner"))
    me.units.append(CustomerUnit(unit=unit_b, relation="tenant"))
    other = factories.customer(name="李建国", phone="13900002222")
    other.units.append(CustomerUnit(unit=unit_c, relation="owner"))
    session.commit()
    return me.id, other.id, unit_a.id, unit_b.id, unit_c.id


def test_my_details_show_name_masked_phone_units_and_family(app, session, resident_login):
    me, _other, unit_a, *_ = _home(session)
    family = factories.customer(name="王小明", phone="13900003333")
    session.add(CustomerUnit(customer=family, unit_id=unit_a, relation="family"))
    session.commit()
    page = resident_login(me).get("/portal/me").get_data(as_text=True)
    assert "王秀英" in page and "139****5678" in page and "13912345678" not in page
    assert "-1201" in page and "业主" in page and "-0302" in page and "租户" in page
    assert "王小明" in page and "139****3333" in page
    assert "李建国" not in page and "0808" not in page
    home = resident_login(me).get("/portal/").get_data(as_text=True)
    assert "我的信息" in home and "/portal/me" in home


def test_signed_out_visitor_and_staff_do_not_reach_my_details(app, session, login):
    _home(session)
    assert "/portal/sign-in" in app.test_client().get("/portal/me").headers["Location"]
    assert "/portal/sign-in" in login("Admin").get("/portal/me").headers["Location"]
    assert app.test_client().post("/portal/me/channel", data={"channel": "email"}).status_code == 302


def test_resident_changes_their_preferred_channel(app, session, resident_login):
    me, *_ = _home(session)
    client = resident_login(me)
    page = client.get("/portal/me").get_data(as_text=True)
    assert 'value="email"' in page and 'value="sms"' in page and 'value="wechat"' not in page  # no openid yet
    assert client.post("/portal/me/channel", data={"channel": "email"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Customer, me).preferred_channel == "email"
    for bad in ("wechat", "inapp", "fax", ""):
        response = client.post("/portal/me/channel", data={"channel": bad})
        assert response.status_code == 422 and "请从列出的联系方式中选择" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Customer, me).preferred_channel == "email"


def test_owner_adds_and_removes_a_family_member(app, session, resident_login):
    me, _other, unit_a, *_ = _home(session)
    client = resident_login(me)
    response = client.post("/portal/me/family", data={"unit": unit_a, "name": "王小红", "phone": "13900004444"})
    assert response.status_code == 302
    member = db.session.execute(select(Customer).where(Customer.phone == "13900004444")).scalar_one()
    tie = db.session.execute(select(CustomerUnit).where(CustomerUnit.customer_id == member.id)).scalar_one()
    assert member.name == "王小红" and tie.unit_id == unit_a and tie.relation == "family"
    assert db.session.execute(select(ChangeLog).where(ChangeLog.resource == "CustomerUnit")).first() is not None
    page = client.get("/portal/me").get_data(as_text=True)
    assert "王小红" in page and f"/portal/me/family/{tie.id}/remove" in page
    assert client.post(f"/portal/me/family/{tie.id}/remove").status_code == 302
    db.session.expire_all()
    assert db.session.get(CustomerUnit, tie.id) is None and db.session.get(Customer, member.id) is not None
    assert db.session.query(PortalFamilyLink).count() == 0


def test_family_only_on_units_the_resident_owns(app, session, resident_login):
    me, _other, _unit_a, unit_b, unit_c = _home(session)
    client = resident_login(me)
    for unit in (unit_b, unit_c, 999999):  # rented, someone else's, nobody's
        response = client.post("/portal/me/family", data={"unit": unit, "name": "王小红", "phone": "13900004444"})
        assert response.status_code == 403 and "只能为您作为业主的房屋添加家庭成员" in response.get_data(as_text=True)
    assert db.session.execute(select(Customer).where(Customer.phone == "13900004444")).first() is None


def test_bad_family_input_saves_nothing(app, session, resident_login):
    me, _other, unit_a, *_ = _home(session)
    client = resident_login(me)
    for data, message in [
        ({"name": "", "phone": "13900004444"}, "请填写家庭成员姓名"),
        ({"name": "王小红", "phone": "12345"}, "11位手机号"),
        ({"name": "王小红", "phone": "13900002222"}, "登记的姓名与填写的不一致"),  # 李建国's number
        ({"name": "王秀英", "phone": "13912345678"}, "已登记在该房屋下"),  # herself
    ]:
        response = client.post("/portal/me/family", data={"unit": unit_a, **data})
        assert response.status_code == 422 and message in response.get_data(as_text=True), data
    assert db.session.query(PortalFamilyLink).count() == 0
    assert db.session.query(CustomerUnit).filter_by(unit_id=unit_a).count() == 1


def test_family_editing_can_be_switched_off(app, session, resident_login):
    me, _other, unit_a, *_ = _home(session)
    app.config["CRM_PORTAL_FAMILY_EDIT"] = False
    try:
        client = resident_login(me)
        assert "添加家庭成员" not in client.get("/portal/me").get_data(as_text=True)
        response = client.post("/portal/me/family", data={"unit": unit_a, "name": "王小红", "phone": "13900004444"})
        assert response.status_code == 403 and "由物业服务中心登记" in response.get_data(as_text=True)
    finally:
        app.config["CRM_PORTAL_FAMILY_EDIT"] = True
    assert db.session.query(PortalFamilyLink).count() == 0


def test_a_resident_cannot_remove_another_residents_family_member_by_id(app, session, resident_login):
    me, other, unit_a, _unit_b, unit_c = _home(session)
    theirs = resident_login(other)
    assert (
        theirs.post("/portal/me/family", data={"unit": unit_c, "name": "李小龙", "phone": "13900005555"}).status_code
        == 302
    )
    their_tie = db.session.execute(select(PortalFamilyLink.customer_unit_id)).scalar_one()
    # and a family tie staff made on my own unit is not mine to remove either
    staff_made = CustomerUnit(customer=factories.customer(name="王小明"), unit_id=unit_a, relation="family")
    session.add(staff_made)
    session.commit()
    mine = resident_login(me)
    for tie_id in (their_tie, staff_made.id):
        response = mine.post(f"/portal/me/family/{tie_id}/remove")
        assert response.status_code == 404 and "无法在此移除该家庭成员" in response.get_data(as_text=True)
    assert "李小龙" not in mine.get("/portal/me").get_data(as_text=True)
    db.session.expire_all()
    assert (
        db.session.get(CustomerUnit, their_tie) is not None and db.session.get(CustomerUnit, staff_made.id) is not None
    )
