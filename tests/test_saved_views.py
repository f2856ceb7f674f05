"""Saved list views: save the current filters/search/order, pick them, share them with a role."""

from app.extensions import db
from app.models import SavedListView
from app.web.saved_views import clean_query
from tests import factories


def test_only_view_describing_parameters_are_kept():
    assert (
        clean_query("q=%E5%BC%A0&page_CustomerView=3&_oc_CustomerView=name&_od_CustomerView=asc&x=1")
        == "q=%E5%BC%A0&_oc_CustomerView=name&_od_CustomerView=asc"
    )


def test_save_and_pick_a_view(login, ctx, user_id):
    factories.unit(number="0303", status="occupied")
    client = login("Service")
    query = "_flt_0_status=occupied&_oc_UnitView=number&_od_UnitView=asc&page_UnitView=2"
    response = client.post("/unitview/savedview/", data={"name": "已入住房屋", "query": query})
    assert response.status_code == 302
    saved = db.session.query(SavedListView).one()
    assert (saved.name, saved.view, saved.owner_id) == ("已入住房屋", "UnitView", user_id("Service"))
    assert "page_" not in saved.query
    page = client.get("/unitview/list/").get_data(as_text=True)
    assert "已入住房屋" in page and f"/unitview/list/?{saved.query.replace('&', '&amp;')}" in page


def test_views_are_private_unless_shared_with_a_role(app, login, ctx):
    service_role = app.appbuilder.sm.find_role("Service").id
    tech_role = app.appbuilder.sm.find_role("Technician").id
    owner = login("Service")
    owner.post("/customerview/savedview/", data={"name": "我的视图", "query": "q=张"})
    owner.post("/customerview/savedview/", data={"name": "客服共享", "query": "q=李", "shared_role": service_role})
    # sharing with a role one does not hold is not possible
    owner.post("/customerview/savedview/", data={"name": "给维修", "query": "q=王", "shared_role": tech_role})
    assert db.session.query(SavedListView).filter_by(name="给维修").one().shared_role_id is None
    admin_page = login("Admin").get("/customerview/list/").get_data(as_text=True)
    assert "我的视图" not in admin_page and "客服共享" not in admin_page


def test_shared_view_is_seen_by_the_role_but_only_the_owner_deletes_it(app, login, ctx):
    service_role = app.appbuilder.sm.find_role("Service").id
    sm = app.appbuilder.sm
    # a name of its own: the demo data (loaded by other tests in this process) has a "service2" with its own password
    if not sm.find_user(username="service_colleague"):
        sm.add_user(
            "service_colleague",
            "二",
            "客服",
            "service_colleague@example.com",
            sm.find_role("Service"),
            "Test-password-2026",
        )
    owner = login("Service")
    owner.post("/customerview/savedview/", data={"name": "客服共享", "query": "q=李", "shared_role": service_role})
    saved = db.session.query(SavedListView).one()
    from tests.conftest import _login

    colleague = _login(app, "service_colleague")
    assert "客服共享" in colleague.get("/customerview/list/").get_data(as_text=True)
    colleague.post(f"/customerview/savedview/{saved.id}/delete")
    assert db.session.query(SavedListView).count() == 1
    owner.post(f"/customerview/savedview/{saved.id}/delete")
    assert db.session.query(SavedListView).count() == 0


def test_a_view_needs_a_name(login, ctx):
    login("Service").post("/customerview/savedview/", data={"name": "  ", "query": "q=1"})
    assert db.session.query(SavedListView).count() == 0
