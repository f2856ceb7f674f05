"""My to-do and the pending pool."""

import datetime

from app.extensions import db
from app.core.clock import utcnow
from app.models import Ticket
from tests import factories

NOW = utcnow()


def test_my_todo_lists_my_open_tickets_overdue_first(login, ctx, user_id):
    me = user_id("Technician")
    factories.ticket(title="逾期工单", assignee_id=me, status="assigned", deadline=NOW - datetime.timedelta(hours=2))
    factories.ticket(title="明天到期", assignee_id=me, status="assigned", deadline=NOW + datetime.timedelta(days=1))
    factories.ticket(title="别人的工单", assignee_id=user_id("Supervisor"), status="assigned")
    page = login("Technician").get("/mytodoview/list/").get_data(as_text=True)
    assert "别人的工单" not in page
    assert page.index("逾期工单") < page.index("明天到期")
    assert "我的待办" in page


def test_one_click_start_from_my_todo(login, ctx, user_id):
    me = user_id("Technician")
    ticket = factories.ticket(assignee_id=me, status="assigned")
    theirs = factories.ticket(assignee_id=user_id("Supervisor"), status="assigned")
    client = login("Technician")
    client.post("/mytodoview/action_post", data={"action": "start", "rowid": [ticket.id]})
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.status == "in_progress" and ticket.responded_at is not None
    # someone else's ticket cannot be started through the action endpoint either
    client.post("/mytodoview/action_post", data={"action": "start", "rowid": [theirs.id]})
    db.session.expire_all()
    assert db.session.get(Ticket, theirs.id).status == "assigned"


def test_pending_pool_shows_unassigned_new_tickets(login, ctx, user_id):
    from app.models import StaffProfile

    department = factories.department()
    db.session.add(StaffProfile(user_id=user_id("Supervisor"), department_id=department.id, max_open_tickets=0))
    db.session.commit()
    factories.ticket(title="待分派", department=department)
    factories.ticket(title="已分派", assignee_id=user_id("Technician"), status="assigned")
    page = login("Supervisor").get("/pendingpoolview/list/").get_data(as_text=True)
    assert "待分派" in page and "已分派" not in page
