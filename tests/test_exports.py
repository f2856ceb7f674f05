"""Excel export: what the list shows, formatted, formula-safe, permission-checked and logged."""

import datetime
import io
from decimal import Decimal

import openpyxl
import pytest

from app.extensions import db
from app.models import ExportLog
from tests import factories


def workbook(response):
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return openpyxl.load_workbook(io.BytesIO(response.data)).active


def test_export_carries_the_filtered_list_with_chinese_headers(admin_client, ctx):
    unit = factories.unit(number="1801")
    factories.customer(
        name="钱多多", phone="13800001111", type="tenant", tags=[factories.tag(name="VIP")], units=[unit]
    )
    factories.customer(name="孙少少", phone="13800002222")
    sheet = workbook(admin_client.get("/customerview/export/?q=钱"))
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("姓名", "电话", "类型", "状态")
    assert len(rows) == 2
    assert rows[1][:5] == ("钱多多", "13800001111", "租户", "正常", "VIP")
    assert "1801" in rows[1][5]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref.startswith("A1:")


def test_export_keeps_order_and_all_pages(admin_client, ctx):
    building = factories.building()
    for n in range(60):
        factories.unit(building, number=f"{n:04d}")
    sheet = workbook(admin_client.get("/unitview/export/?_oc_UnitView=number&_od_UnitView=desc"))
    numbers = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert numbers == [f"{n:04d}" for n in reversed(range(60))]


def test_formulas_and_links_stay_text(admin_client, ctx):
    factories.customer(name='=HYPERLINK("http://evil.example","点我")', phone="13800003333", notes="x")
    factories.customer(name="+1+1", phone="13800004444")
    factories.customer(name="http://example.com", phone="13800005555")
    sheet = workbook(admin_client.get("/customerview/export/"))
    names = {}
    for row in sheet.iter_rows(min_row=2):
        names[row[0].value] = row[0].data_type
    assert names['=HYPERLINK("http://evil.example","点我")'] == "s"
    assert names["+1+1"] == "s"
    assert names["http://example.com"] == "s"
    assert all(cell.hyperlink is None for row in sheet.iter_rows(min_row=2) for cell in row)


def test_money_and_dates_are_typed_cells(admin_client, ctx):
    factories.bill(amount=Decimal("1234.56"), due_date=datetime.date(2026, 12, 15))
    sheet = workbook(admin_client.get("/billview/export/"))
    header = [c.value for c in sheet[1]]
    row = sheet[2]
    amount = row[header.index("金额")]
    due = row[header.index("到期日")] if "到期日" in header else row[header.index(header[-1])]
    assert amount.value == pytest.approx(1234.56) and amount.number_format == "#,##0.00"
    assert isinstance(due.value, datetime.datetime) and due.value.date() == datetime.date(2026, 12, 15)


def test_export_is_a_permission_of_its_own_and_is_logged(login, ctx, user_id):
    factories.customer()
    assert login("Service").get("/customerview/export/").status_code == 403
    assert login("Manager").get("/customerview/export/?q=张").status_code == 200
    log = db.session.query(ExportLog).one()
    assert (log.resource, log.user_id, log.rows) == ("Customer", user_id("Manager"), 1)
    assert "q=" in log.query


def test_export_button_shows_only_to_who_may_export(login):
    assert 'href="/customerview/export/?q=a"' in login("Manager").get("/customerview/list/?q=a").get_data(as_text=True)
    assert 'href="/tagview/export/"' in login("Manager").get("/tagview/list/").get_data(as_text=True)
    assert "/customerview/export/" not in login("Service").get("/customerview/list/").get_data(as_text=True)


def test_an_export_in_english_leaves_the_chinese_list_in_chinese(admin_client, login, ctx):
    factories.customer(name="赵敏", type="tenant")
    english = login("Admin")
    english.get("/lang/en")
    rows = list(workbook(english.get("/customerview/export/")).iter_rows(values_only=True))
    assert rows[1][2] == "Tenant"
    page = admin_client.get("/customerview/list/").get_data(as_text=True)
    assert "租户" in page and "Tenant" not in page


def test_selected_rows_export_through_the_list_action(login, ctx):
    a, _b, c = factories.customer(name="甲"), factories.customer(name="乙"), factories.customer(name="丙")
    client = login("Manager")
    response = client.post("/customerview/action_post", data={"action": "export_selected", "rowid": [a.id, c.id]})
    assert response.status_code == 302
    rows = list(workbook(client.get(response.headers["Location"])).iter_rows(min_row=2, values_only=True))
    assert sorted(r[0] for r in rows) == ["丙", "甲"]
    service = login("Service").post("/customerview/action_post", data={"action": "export_selected", "rowid": [a.id]})
    assert service.status_code == 302 and "export" not in service.headers["Location"]


def test_a_large_export_is_built_by_the_scheduler_and_offered_to_its_owner_only(app, login, ctx, tmp_path):
    from app.web.exports import run_export_jobs
    from app.models import ExportJob, ExportLog, Notification
    from app.core.column_types import utcnow

    for name in ("甲", "乙", "丙"):
        factories.customer(name=f"大批量{name}")
    app.config.update(CRM_EXPORT_BACKGROUND_ROWS=2, EXPORT_FOLDER=str(tmp_path))
    try:
        manager = login("Manager")
        response = manager.get("/customerview/export/?cols=name&q=大批量")
        assert response.status_code == 302  # back to the list with a message, not a file
        job = db.session.query(ExportJob).one()
        assert (job.status, job.view) == ("queued", "CustomerView")
        assert run_export_jobs(app, db.session, utcnow(), str(tmp_path)) == 1
        assert run_export_jobs(app, db.session, utcnow(), str(tmp_path)) == 0  # each job runs once
        db.session.expire_all()
        job = db.session.get(ExportJob, job.id)
        assert (job.status, job.rows) == ("done", 3)
        note = db.session.query(Notification).filter_by(link=f"/exports/{job.id}").one()
        assert "3" in note.title
        assert db.session.query(ExportLog).filter_by(rows=3).count() == 1
        download = manager.get(f"/exports/{job.id}")
        sheet = openpyxl.load_workbook(io.BytesIO(download.data)).active
        assert [c.value for c in sheet[1]] == ["姓名"] and sheet.max_row == 4
        assert login("Service").get(f"/exports/{job.id}").status_code == 404
    finally:
        app.config.update(CRM_EXPORT_BACKGROUND_ROWS=20000)


def test_a_background_export_has_the_scope_and_field_levels_of_who_asked(app, login, ctx, tmp_path, user_id):
    from app.web.exports import run_export_jobs
    from app.models import ExportJob, FieldPermission, StaffProfile
    from app.core.column_types import utcnow

    ours, theirs = factories.department(name="工程一部"), factories.department(name="工程二部")
    db.session.add(StaffProfile(user_id=user_id("Supervisor"), department_id=ours.id, max_open_tickets=0))
    db.session.add(
        FieldPermission(
            role_id=app.appbuilder.sm.find_role("Supervisor").id, resource="Ticket", field="description", level="hidden"
        )
    )
    db.session.commit()
    for i in range(3):
        factories.ticket(title=f"本部门{i}", department=ours, description="机密描述")
        factories.ticket(title=f"外部门{i}", department=theirs)
    app.config.update(CRM_EXPORT_BACKGROUND_ROWS=2, EXPORT_FOLDER=str(tmp_path))
    sm = app.appbuilder.sm  # this firm lets supervisors export their tickets (granted in the role page)
    export = sm.find_permission_view_menu("can_export", "Ticket")
    sm.add_permission_role(sm.find_role("Supervisor"), export)
    try:
        supervisor = login("Supervisor")
        assert supervisor.get("/ticketview/export/?cols=title,description").status_code == 302
        assert db.session.query(ExportJob).one().status == "queued"
        assert run_export_jobs(app, db.session, utcnow(), str(tmp_path)) == 1
        job = db.session.query(ExportJob).one()
        sheet = openpyxl.load_workbook(io.BytesIO(supervisor.get(f"/exports/{job.id}").data)).active
        values = [str(c.value) for row in sheet.iter_rows() for c in row]
        assert sorted(v for v in values if v.startswith(("本部门", "外部门"))) == ["本部门0", "本部门1", "本部门2"]
        assert "机密描述" not in values
    finally:
        app.config.update(CRM_EXPORT_BACKGROUND_ROWS=20000)
        sm.del_permission_role(sm.find_role("Supervisor"), export)
