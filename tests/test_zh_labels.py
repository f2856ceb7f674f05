"""Chinese where FAB would show English or internal names: permissions, pickers, dialogs, jobs, the API."""

import html
import json
import re

from app.extensions import db
from tests import factories


def test_the_role_form_names_permissions_in_chinese_in_menu_order(admin_client, ctx):
    role = db.session.query(admin_client.application.appbuilder.sm.role_model).filter_by(name="Manager").one()
    page = admin_client.get(f"/roles/edit/{role.id}").get_data(as_text=True)
    options = re.findall(r"<option[^>]*>([^<]*)</option>", page)
    assert len(options) > 100
    assert not [o for o in options if " on " in o or o.startswith("can")]
    assert "客户管理 › 客户列表：新增" in options
    customers = [o for o in options if o.startswith("客户管理 › 客户列表：")]
    assert customers[:3] == ["客户管理 › 客户列表：查看", "客户管理 › 客户列表：新增", "客户管理 › 客户列表：编辑"]
    # grouped: one menu entry's permissions come together
    first = options.index(customers[0])
    assert options[first : first + len(customers)] == customers


def test_the_permission_lists_are_chinese(admin_client):
    page = admin_client.get("/permissionviews/list/").get_data(as_text=True)
    cells = [c.strip() for c in re.findall(r"<td>([^<]*)</td>", page)]
    assert len(cells) > 10
    assert not [c for c in cells if re.fullmatch(r"can_\w+|menu_access|\w+(View|Api)", c)]
    assert {"列表", "菜单入口"} & set(cells)
    roles = admin_client.get("/roles/list/").get_data(as_text=True)
    assert "can read on" not in roles and "：查看" in roles


def test_an_optional_relation_offers_a_dash_not_its_internal_value(admin_client):
    page = admin_client.get("/ticketview/add").get_data(as_text=True)
    assert ">__None<" not in page
    assert '<option selected value="__None">—</option>' in page


def test_people_are_named_family_name_first_in_pickers_and_user_pages(admin_client, ctx, user_id):
    sm = admin_client.application.appbuilder.sm
    sm.add_user("lijuan", "丽娟", "李", "lijuan@example.com", sm.find_role("Service"), "Test-password-2026")
    db.session.commit()
    picker = admin_client.get("/ticketview/add").get_data(as_text=True)
    assert ">李丽娟</option>" in picker and "丽娟 李" not in picker
    users = admin_client.get("/users/list/").get_data(as_text=True)
    assert "李丽娟" in users and "丽娟 李" not in users
    assert "客服专员" in users  # a built-in role by its Chinese name
    shown = admin_client.get(f"/users/show/{sm.find_user(username='lijuan').id}").get_data(as_text=True)
    assert "李丽娟" in shown


def test_confirm_and_alert_dialogs_are_chinese(admin_client):
    page = admin_client.get("/customerview/list/").get_data(as_text=True)
    assert ">取消</button>" in page and ">确定</a>" in page
    assert ">Cancel<" not in page and ">OK<" not in page
    # the texts app/static/js/crm.js shows for FAB's "No row selected" alert and Select2's prompts
    texts = json.loads(html.unescape(re.search(r'id="crm-i18n" hidden data-texts="([^"]*)"', page).group(1)))
    assert texts["No row selected"] == "未选择任何记录" and texts["noResults"] == "没有匹配项"


def test_the_layout_kept_between_pages_follows_the_language(login):
    """The layout's dialogs and script texts are rendered once per language (app.web.chrome)."""
    client = login("Service")
    assert ">取消</button>" in client.get("/customerview/list/").get_data(as_text=True)
    client.get("/lang/en")
    page = client.get("/customerview/list/").get_data(as_text=True)
    assert ">Cancel</button>" in page and ">取消</button>" not in page
    texts = json.loads(html.unescape(re.search(r'id="crm-i18n" hidden data-texts="([^"]*)"', page).group(1)))
    assert texts["noResults"] == "No matches"
    client.get("/lang/zh")
    assert ">取消</button>" in client.get("/ticketview/list/").get_data(as_text=True)


def test_a_job_run_in_the_change_history_is_named_in_chinese(admin_client, ctx):
    from app.policy.audit import record_event

    record_event(db.session, "job", "escalation_sweep", 0, "1")
    page = admin_client.get("/changelogview/list/").get_data(as_text=True)
    assert "超时升级检查" in page and "escalation_sweep" not in page


def test_the_return_visit_answer_reads_satisfied_not_the_question(admin_client, ctx):
    ticket = factories.ticket(title="漏水", status="closed")
    from app.models import ReturnVisit

    visit = ReturnVisit(ticket_id=ticket.id, customer_id=ticket.customer_id, due_at=ticket.created_at, status="pending")
    db.session.add(visit)
    db.session.commit()
    page = admin_client.get(f"/returnvisitview/edit/{visit.id}").get_data(as_text=True)
    assert '<option value="1">满意</option>' in page and '<option value="0">不满意</option>' in page
    assert "是否满意" in page  # the question is the field's label


def test_an_api_field_without_description_has_an_empty_one(admin_client):
    for base in ("/api/v1/security/roles", "/api/v1/customer"):
        info = admin_client.get(f"{base}/_info").json
        texts = [c.get("description", "") for c in info["add_columns"]]
        assert not [t for t in texts if "Project-Id-Version" in t], base
    labels = admin_client.get("/api/v1/ticket/?q=(page_size:1)").json["label_columns"]
    assert labels["id"] == "ID" and labels["assignee.username"] == "处理人用户名"


def test_the_role_form_still_saves_the_chosen_permissions(admin_client, ctx):
    sm = admin_client.application.appbuilder.sm
    role = sm.add_role("保洁班长")
    db.session.commit()
    chosen = [sm.find_permission_view_menu("can_read", "Ticket"), sm.find_permission_view_menu("can_read", "Building")]
    response = admin_client.post(
        f"/roles/edit/{role.id}", data={"name": "保洁班长", "permissions": [str(pv.id) for pv in chosen]}
    )
    assert response.status_code == 302
    db.session.expire_all()
    saved = sm.find_role("保洁班长")
    assert sorted(pv.id for pv in saved.permissions) == sorted(pv.id for pv in chosen)
