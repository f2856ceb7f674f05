"""Row-level scoping: a technician or supervisor asking for another scope's rows by id, on any path,
finds nothing and changes nothing."""

from app.extensions import db
from app.models import Ticket


def test_technicians_see_their_tickets_and_their_departments_pool(login, two_departments):
    mine, pool, colleague, other = two_departments
    client = login("Technician")
    page = client.get("/ticketview/list/").get_data(as_text=True)
    assert "我的工单" in page and "本部门待派" in page
    assert "同事的工单" not in page and "外部门工单" not in page
    for hidden in (colleague, other):
        assert client.get(f"/ticketview/show/{hidden.id}").status_code in (302, 404)
        assert client.get(f"/api/v1/ticket/{hidden.id}").status_code == 404
        assert client.get(f"/ticketwork/{hidden.number}").status_code == 404
        assert client.put(f"/api/v1/ticket/{hidden.id}", json={"title": "改"}).status_code == 404
        assert (
            client.post("/ticketview/action_post", data={"action": "batch_edit", "rowid": [hidden.id]}).status_code
            == 404
        )
        assert client.post("/mytodoview/action_post", data={"action": "start", "rowid": [hidden.id]}).status_code == 404
    listed = client.get("/api/v1/ticket/").get_json()["result"]
    assert sorted(r["title"] for r in listed) == ["我的工单", "本部门待派"]
    lookup = client.get("/lookup/ticket?q=工单").get_json()["results"]
    assert [r["id"] for r in lookup] == [mine.id]
    page = client.get("/ticketeventview/list/").get_data(as_text=True)  # the history is scoped too
    assert "外部门工单" not in page and "同事的工单" not in page
    db.session.expire_all()
    assert db.session.get(Ticket, colleague.id).title == "同事的工单"  # nothing changed


def test_supervisors_see_their_departments_tickets_and_staff(login, two_departments, user_id):
    mine, pool, colleague, other = two_departments
    client = login("Supervisor")
    page = client.get("/ticketview/list/").get_data(as_text=True)
    assert "我的工单" in page and "同事的工单" in page and "外部门工单" not in page
    assert client.get(f"/api/v1/ticket/{other.id}").status_code == 404
    staff = client.get("/staffprofileview/list/").get_data(as_text=True)
    assert staff.count("/staffprofileview/show/") == 2


def test_the_service_desk_and_managers_see_everything(login, two_departments):
    for role in ("Service", "Manager"):
        page = login(role).get("/ticketview/list/").get_data(as_text=True)
        assert "外部门工单" in page and "同事的工单" in page


def test_jobs_are_not_scoped(app, two_departments):
    from app.tickets.sla import escalate_overdue
    from app.core.column_types import utcnow
    import datetime

    with app.app_context():
        counts = escalate_overdue(db.session, utcnow() + datetime.timedelta(days=30))
    assert counts["level1"] == 4
