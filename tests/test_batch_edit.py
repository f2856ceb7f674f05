"""Batch edit: chosen fields on selected rows or the whole filter, in one transaction."""

from app.web import batch
from app.extensions import db
from app.models import Customer, FieldPermission, Ticket
from tests import factories


def test_selected_rows_go_from_the_list_action_to_the_batch_form(admin_client, ctx):
    a, b = factories.customer(), factories.customer()
    response = admin_client.post("/customerview/action_post", data={"action": "batch_edit", "rowid": [a.id, b.id]})
    assert response.status_code == 302 and "/customerview/batch/" in response.headers["Location"]
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 条记录将被修改" in page


def test_batch_sets_status_on_the_selected_customers_only(admin_client, ctx):
    a, b, c = factories.customer(), factories.customer(), factories.customer()
    response = admin_client.post(
        f"/customerview/batch/?ids={a.id},{b.id}", data={"apply_status": "1", "status": "moved_out", "type": "tenant"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert [db.session.get(Customer, x.id).status for x in (a, b, c)] == ["moved_out", "moved_out", "active"]
    assert db.session.get(Customer, a.id).type == "owner"  # not ticked, not changed


def test_batch_adds_and_removes_tags(admin_client, ctx):
    old, new = factories.tag(name="欠费提醒"), factories.tag(name="VIP")
    a = factories.customer(tags=[old])
    b = factories.customer()
    admin_client.post(
        f"/customerview/batch/?ids={a.id},{b.id}",
        data={"apply_add_tags": "1", "add_tags": [str(new.id)], "apply_remove_tags": "1", "remove_tags": [str(old.id)]},
    )
    db.session.expire_all()
    assert [t.name for t in db.session.get(Customer, a.id).tags] == ["VIP"]
    assert [t.name for t in db.session.get(Customer, b.id).tags] == ["VIP"]


def test_whole_filter_needs_confirmation_and_changes_every_match(admin_client, ctx):
    building = factories.building()
    units = [factories.unit(building, number=f"{n:04d}", status="vacant") for n in range(7)]
    other = factories.unit(number="9999", status="vacant")
    url = f"/unitview/batch/?all=1&_flt_0_building={building.id}"
    assert "7 条记录将被修改" in admin_client.get(url).get_data(as_text=True)
    admin_client.post(url, data={"apply_status": "1", "status": "occupied"})
    db.session.expire_all()
    assert all(db.session.get(type(u), u.id).status == "vacant" for u in units)  # not confirmed
    admin_client.post(url, data={"apply_status": "1", "status": "occupied", "confirm": "1"})
    db.session.expire_all()
    assert all(db.session.get(type(u), u.id).status == "occupied" for u in units)
    assert db.session.get(type(other), other.id).status == "vacant"


def test_one_invalid_row_changes_nothing_even_across_chunks(admin_client, ctx, monkeypatch):
    monkeypatch.setattr(batch, "CHUNK", 2)
    from sqlalchemy import update

    tickets = [factories.ticket(priority="low") for _ in range(5)]
    db.session.execute(update(Ticket).where(Ticket.id == tickets[4].id).values(status="closed"))
    db.session.commit()
    ids = ",".join(str(t.id) for t in tickets)
    page = admin_client.post(
        f"/ticketview/batch/?ids={ids}", data={"apply_priority": "1", "priority": "high"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "已关闭或已取消，不能再修改" in page
    db.session.expire_all()
    assert [db.session.get(Ticket, t.id).priority for t in tickets] == ["low"] * 5


def test_batch_status_change_is_logged_per_ticket(admin_client, ctx, user_id):
    tickets = [factories.ticket() for _ in range(3)]
    admin_client.post(
        f"/ticketview/batch/?ids={','.join(str(t.id) for t in tickets)}",
        data={"apply_status": "1", "status": "assigned"},
    )
    db.session.expire_all()
    for ticket in tickets:
        events = db.session.get(Ticket, ticket.id).events
        assert [(e.kind, e.to_status, e.actor_id) for e in events][-1] == ("status", "assigned", user_id("Admin"))


def test_invalid_value_is_refused(admin_client, ctx):
    a = factories.customer()
    admin_client.post(f"/customerview/batch/?ids={a.id}", data={"apply_status": "1", "status": "nonsense"})
    db.session.expire_all()
    assert db.session.get(Customer, a.id).status == "active"


def test_batch_respects_field_permissions_and_role_permissions(app, login, ctx):
    a = factories.customer()
    db.session.add(
        FieldPermission(
            role_id=app.appbuilder.sm.find_role("Service").id, resource="Customer", field="status", level="readonly"
        )
    )
    db.session.commit()
    client = login("Service")
    assert 'name="status"' not in client.get(f"/customerview/batch/?ids={a.id}").get_data(as_text=True)
    client.post(f"/customerview/batch/?ids={a.id}", data={"apply_status": "1", "status": "inactive"})
    assert (
        login("Technician")
        .post(f"/customerview/batch/?ids={a.id}", data={"apply_status": "1", "status": "inactive"})
        .status_code
        == 403
    )
    db.session.expire_all()
    assert db.session.get(Customer, a.id).status == "active"


def test_batch_of_many_rows_stays_in_chunks(ctx, monkeypatch):
    from app.policy.field_permissions import FieldAccess

    monkeypatch.setattr(batch, "CHUNK", 50)
    db.session.add_all([Customer(name=f"批量{i}", phone=f"1370000{i:04d}") for i in range(230)])
    db.session.commit()
    changed = batch.apply_batch(db.session, db.session.query(Customer), {"status": "inactive"}, FieldAccess({}))
    assert changed == 230
    assert db.session.query(Customer).filter_by(status="inactive").count() == 230
    assert len(db.session.identity_map) < 100


def test_list_offers_batch_edit_of_the_whole_filter_to_editors_only(login):
    page = login("Service").get("/customerview/list/?q=张").get_data(as_text=True)
    assert "/customerview/batch/?all=1&amp;q=" in page or "/customerview/batch/?all=1&q=" in page
    assert "/customerview/batch/" not in login("Manager").get("/customerview/list/").get_data(as_text=True)
    assert "/tagview/batch/" not in login("Admin").get("/tagview/list/").get_data(as_text=True)
