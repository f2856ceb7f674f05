"""Probes: paths by which a scoped user or a hidden/masked field still leaks."""

from app.extensions import db
from app.models import FieldPermission, TicketEvent
from tests import factories
from tests.pages import show_page
from tests.conftest import PASSWORD, ROLE_USERS  # noqa: F401 - token probes

PHONE = "13812341234"


def configure(app, role, resource, field, level):
    db.session.add(
        FieldPermission(role_id=app.appbuilder.sm.find_role(role).id, resource=resource, field=field, level=level)
    )
    db.session.commit()


def body(response):
    return response.get_data(as_text=True)


# Shows: the ticket work page prints every history note raw, although TicketEvent.note is hidden for the role.
def test_a_hidden_event_note_is_not_printed_on_the_ticket_work_page(app, ctx, login, user_id):
    configure(app, "Technician", "TicketEvent", "note", "hidden")
    ticket = factories.ticket(assignee_id=user_id("Technician"), status="assigned")
    db.session.add(TicketEvent(ticket_id=ticket.id, kind="note", note="内部备注XYZ"))
    db.session.commit()
    client = login("Technician")
    assert "内部备注XYZ" not in body(client.get("/ticketeventview/list/"))
    assert "内部备注XYZ" not in body(client.get(f"/ticketwork/{ticket.number}"))


# Shows: a role that may read tickets but not their history (no can_read on TicketEvent) still reads the
# whole history on the ticket work page.
def test_a_role_without_ticket_history_cannot_read_it_on_the_ticket_work_page(app, ctx, login, user_id):
    sm = app.appbuilder.sm
    role = sm.find_role("Technician")
    pvm = sm.find_permission_view_menu("can_read", "TicketEvent")
    role.permissions.remove(pvm)
    db.session.commit()
    try:
        ticket = factories.ticket(assignee_id=user_id("Technician"), status="assigned")
        db.session.add(TicketEvent(ticket_id=ticket.id, kind="note", note="内部备注XYZ"))
        db.session.commit()
        client = login("Technician")
        assert "内部备注XYZ" not in body(client.get("/ticketeventview/list/"))
        assert "内部备注XYZ" not in body(client.get(f"/ticketwork/{ticket.number}"))
    finally:
        role = sm.find_role("Technician")
        role.permissions.append(sm.find_permission_view_menu("can_read", "TicketEvent"))
        db.session.commit()


def _rated_tickets(now, department):
    import datetime

    from app.models import TicketRating

    tickets = []
    for stars in (2, 5):
        ticket = factories.ticket(
            department=department,
            status="resolved",
            created_at=now - datetime.timedelta(days=3),
            resolved_at=now - datetime.timedelta(days=1),
        )
        db.session.add(
            TicketRating(ticket_id=ticket.id, stars=stars, source="phone", rated_at=now - datetime.timedelta(hours=20))
        )
        tickets.append(ticket)
    db.session.commit()
    return tickets


# Shows: with TicketRating.stars hidden for the supervisor, the dashboard's satisfaction widget is refused,
# but the service report prints each department's average rating (3.5 from 2 and 5 stars).
def test_a_hidden_rating_is_not_averaged_on_the_service_report(app, ctx, login, two_departments, now):
    configure(app, "Supervisor", "TicketRating", "stars", "hidden")
    _rated_tickets(now, two_departments[0].department)
    client = login("Supervisor")
    assert client.get("/dashboard/data/satisfaction_trend").status_code == 403
    assert "3.5" not in body(client.get("/reports/service/"))


# Shows: the same hidden rating is averaged per person and per department on /performance.
def test_a_hidden_rating_is_not_averaged_on_the_performance_page(app, ctx, login, two_departments, now):
    configure(app, "Supervisor", "TicketRating", "stars", "hidden")
    _rated_tickets(now, two_departments[0].department)
    assert "3.5" not in body(login("Supervisor").get("/performance/"))


# Shows: a role that may not read bills still gets the collection rate widget's figures from the dashboard.
def test_a_role_without_bills_gets_no_bill_figures_from_the_dashboard(app, ctx, login, now):
    sm = app.appbuilder.sm
    role = sm.find_role("Supervisor")
    pvm = sm.find_permission_view_menu("can_read", "Bill")
    role.permissions.remove(pvm)
    db.session.commit()
    try:
        customer = factories.customer(name="林黛玉", phone=PHONE)
        factories.bill(customer_obj=customer)
        client = login("Supervisor")
        assert client.get("/billview/list/").status_code in (302, 403)
        response = client.get("/dashboard/data/collection_rate?start=2026-01-01&end=2026-12-31")
        data = response.get_json() or {}
        assert response.status_code == 403 or not any(s.get("data") for s in data.get("series", []))
    finally:
        role = sm.find_role("Supervisor")
        role.permissions.append(sm.find_permission_view_menu("can_read", "Bill"))
        db.session.commit()


# Shows: a department-scoped supervisor cannot open another department's ticket, yet reads its title,
# resolution and customer rating link in the completion notice on the outbox pages (and the list's quick
# search by subject confirms it).
def test_a_supervisor_cannot_read_another_departments_ticket_through_the_outbox(app, ctx, login, two_departments, now):
    import zoneinfo

    from app.notices.notify import ensure_templates, notify_completion

    other = two_departments[3]
    other.customer = factories.customer(name="林黛玉", phone=PHONE)
    other.resolution = "外部门处理结果"
    db.session.commit()
    ensure_templates(db.session)
    message = notify_completion(
        db.session, other, "https://crm.example/rate/SIGNED", now, zoneinfo.ZoneInfo(app.config["TIMEZONE"])
    )
    db.session.commit()
    message_id = message.id if hasattr(message, "id") else message
    client = login("Supervisor")
    assert client.get(f"/ticketwork/{other.number}").status_code == 404
    shown = body(client.get(f"/outboxview/show/{message_id}"))
    assert "外部门工单" not in shown and "外部门处理结果" not in shown and "rate/SIGNED" not in shown


# Shows: the customer timeline prints a ticket's number, a bill's period and a payment's receipt number
# as stored, although those fields are hidden for the role (only titles and amounts go through the levels).
def test_hidden_numbers_and_periods_are_not_printed_on_the_customer_timeline(app, ctx, login):
    from decimal import Decimal

    from app.models import Payment

    configure(app, "Service", "Ticket", "number", "hidden")
    configure(app, "Service", "Bill", "period", "hidden")
    configure(app, "Service", "Payment", "receipt_number", "hidden")
    customer = factories.customer(name="林黛玉", phone=PHONE)
    ticket = factories.ticket(customer=customer)
    bill = factories.bill(customer_obj=customer, period="2019-07")
    db.session.add(Payment(bill_id=bill.id, amount=Decimal("10.00"), method="cash", receipt_number="RC-SECRET-1"))
    db.session.commit()
    page = body(login("Service").get(f"/customerview/timeline/{customer.id}"))
    assert "林黛玉" in page
    leaked = [value for value in (ticket.number, "2019-07", "RC-SECRET-1") if value in page]
    assert leaked == []


def lookup_texts(client, resource):
    return " ".join(row["text"] for row in client.get(f"/lookup/{resource}").get_json()["results"])


# Shows: the searchable selects print str(record) as stored: a customer name masked for the role comes back
# in full from /lookup/customer, and /lookup/bill prints a hidden bill amount and the masked customer name.
def test_the_lookups_print_records_by_their_field_levels(app, ctx, login):
    from decimal import Decimal

    configure(app, "Service", "Customer", "name", "masked")
    configure(app, "Service", "Bill", "amount", "hidden")
    customer = factories.customer(name="林黛玉", phone=PHONE)
    factories.bill(customer_obj=customer, amount=Decimal("987.65"))
    client = login("Service")
    assert "林黛玉" not in lookup_texts(client, "customer")
    bills = lookup_texts(client, "bill")
    assert "987.65" not in bills and "林黛玉" not in bills


# Shows: /lookup/ticket prints "number title" even when Ticket.title is hidden for the role.
def test_a_hidden_ticket_title_is_not_printed_by_the_ticket_lookup(app, ctx, login, user_id):
    configure(app, "Technician", "Ticket", "title", "hidden")
    factories.ticket(title="保密标题ABC", assignee_id=user_id("Technician"), status="assigned")
    assert "保密标题ABC" not in lookup_texts(login("Technician"), "ticket")


# Shows: besides history notes, the ticket work page prints the department and the attachments'
# descriptions as stored, although these fields are hidden for the role.
def test_hidden_ticket_fields_are_not_printed_on_the_ticket_work_page(app, ctx, login, user_id):
    from app.models import TicketAttachment

    configure(app, "Technician", "Ticket", "department", "hidden")
    configure(app, "Technician", "TicketAttachment", "description", "hidden")
    ticket = factories.ticket(
        department=factories.department(name="保密部门"), assignee_id=user_id("Technician"), status="assigned"
    )
    db.session.add(TicketAttachment(ticket_id=ticket.id, file="a.jpg", description="附件说明SECRET"))
    db.session.commit()
    page = body(login("Technician").get(f"/ticketwork/{ticket.number}"))
    leaked = [value for value in ("保密部门", "附件说明SECRET") if value in page]
    assert leaked == []


# Shows: a technician may not read residences (CustomerUnit: who lives in which unit), yet the customer
# quick search follows units.unit.number, so searching a unit number on the page or the API names its residents.
def test_the_customer_search_does_not_follow_residences_the_role_may_not_read(app, ctx, login):
    factories.customer(name="林黛玉", phone=PHONE, units=[factories.unit(number="0777")])
    factories.customer(name="薛宝钗", phone="13912341234", units=[factories.unit(number="0888")])
    client = login("Technician")
    assert client.get("/residenceview/list/").status_code in (302, 403)
    api = client.get("/api/v1/customer/?q=(filters:!((col:name,opr:crm_q,value:'0777')))").get_json()
    assert [row.get("name") for row in api.get("result", [])] == []
    assert "林黛玉" not in body(client.get("/customerview/list/?q=0777"))


# Shows: the API leaves out embedded records of models the role may not read (tags, residences for a
# technician), but the customer list and show pages print them: tag names and the units a customer lives in.
def test_the_customer_pages_do_not_show_tags_or_residences_the_role_may_not_read(app, ctx, login):
    tag = factories.tag(name="VIP密标签")
    customer = factories.customer(name="林黛玉", phone=PHONE, units=[factories.unit(number="0777")], tags=[tag])
    client = login("Technician")
    assert client.get("/tagview/list/").status_code in (302, 403)
    assert "VIP密标签" not in body(client.get("/api/v1/customer/"))
    pages = body(client.get("/customerview/list/")) + body(show_page(client, f"/customerview/show/{customer.id}"))
    leaked = [value for value in ("VIP密标签", "0777") if value in pages]
    assert leaked == []


# Shows: a role given the change history (can_read ChangeLog, e.g. for auditing its own department) reads
# the history of another department's ticket, values included: the log does not follow the ticket's scope.
def test_a_supervisor_with_change_history_cannot_read_another_departments_ticket_history(
    app, ctx, login, two_departments
):
    sm = app.appbuilder.sm
    role = sm.find_role("Supervisor")
    role.permissions.append(sm.add_permission_view_menu("can_read", "ChangeLog"))
    db.session.commit()
    try:
        other = two_departments[3]
        other.title = "外部门改后标题"
        db.session.commit()
        client = login("Supervisor")
        assert client.get(f"/ticketwork/{other.number}").status_code == 404
        page = body(client.get(f"/changelogview/record/Ticket/{other.id}"))
        listing = body(client.get("/changelogview/list/"))
        assert "外部门" not in page and "外部门" not in listing
    finally:
        role = sm.find_role("Supervisor")
        role.permissions.remove(sm.find_permission_view_menu("can_read", "ChangeLog"))
        db.session.commit()
