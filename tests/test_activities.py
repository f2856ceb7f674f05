"""社区活动: staff publish to a segment; residents sign up and cancel before the deadline; capacity is
never exceeded, even when many sign up at the same moment; staff see the list and mark attendance."""

import datetime
import threading

from sqlalchemy import select

from app.activities import sign_ups as activities
from app.core.errors import DomainError
from app.extensions import db
from app.models import Activity, ActivitySignUp, ChangeLog, Customer
from app.policy.principal import acting_as, resident_principal
from app.core.column_types import utcnow
from tests import factories

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def _activity(now, capacity=10, buildings=(), tags=(), status="published", **kw):
    activity = Activity(
        title=kw.pop("title", "中秋游园会"),
        place=kw.pop("place", "小区中心花园"),
        starts_at=kw.pop("starts_at", now + 3 * DAY),
        ends_at=kw.pop("ends_at", now + 3 * DAY + 2 * HOUR),
        sign_up_deadline=kw.pop("sign_up_deadline", now + 2 * DAY),
        capacity=capacity,
        signed_up_count=0,
        status=status,
        buildings=list(buildings),
        tags=list(tags),
        **kw,
    )
    db.session.add(activity)
    db.session.commit()
    return activity.id


def _estate(session):
    east, west = factories.building(name="东苑"), factories.building(name="西苑")
    mine = factories.customer(name="王秀英", units=[factories.unit(building_obj=east)])
    theirs = factories.customer(name="李建国", units=[factories.unit(building_obj=west)])
    return east, west, mine.id, theirs.id


def _count(activity_id):
    db.session.expire_all()
    return db.session.get(Activity, activity_id).signed_up_count


def test_a_resident_sees_the_activities_of_their_segment_with_places_left(session, resident_login, now):
    east, west, mine, theirs = _estate(session)
    _activity(now, capacity=30, title="东苑插花课", buildings=[east])
    _activity(now, title="西苑羽毛球赛", buildings=[west])
    _activity(now, title="草稿活动", status="draft")
    _activity(now, title="全体业主联谊会", capacity=50)
    text = resident_login(mine).get("/portal/activities").get_data(as_text=True)
    assert "东苑插花课" in text and "全体业主联谊会" in text and "剩余 30 个名额" in text
    assert "西苑羽毛球赛" not in text and "草稿活动" not in text
    assert "社区活动" in resident_login(mine).get("/portal/").get_data(as_text=True)


def test_sign_up_cancel_and_sign_up_again(session, resident_login, now):
    east, west, mine, theirs = _estate(session)
    activity = _activity(now, capacity=5, buildings=[east])
    client = resident_login(mine)
    response = client.post(f"/portal/activities/{activity}/sign-up", follow_redirects=True)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "报名成功" in text and "4 / 5" in text
    again = client.post(f"/portal/activities/{activity}/sign-up", follow_redirects=True).get_data(as_text=True)
    assert "您已报名此活动" in again and _count(activity) == 1
    sign_up = db.session.execute(select(ActivitySignUp)).scalar_one()
    text = client.post(f"/portal/activities/sign-ups/{sign_up.id}/cancel", follow_redirects=True).get_data(as_text=True)
    assert "已取消报名" in text and _count(activity) == 0
    assert db.session.get(ActivitySignUp, sign_up.id).cancelled_at is not None
    client.post(f"/portal/activities/{activity}/sign-up")
    db.session.expire_all()
    row = db.session.execute(select(ActivitySignUp)).scalar_one()  # the same row, active again
    assert row.id == sign_up.id and row.cancelled_at is None and _count(activity) == 1


def test_refusals_change_nothing(session, resident_login, now):
    east, west, mine, theirs = _estate(session)
    closed = _activity(now, title="已截止", sign_up_deadline=now - HOUR)
    cancelled = _activity(now, title="已取消", status="cancelled")
    elsewhere = _activity(now, title="西苑", buildings=[west])
    full = _activity(now, title="满员", capacity=1)
    draft = _activity(now, title="草稿", status="draft")
    with acting_as(resident_principal(theirs)):
        activities.sign_up(db.session, full, theirs, utcnow())
    client = resident_login(mine)
    for activity, message in (
        (closed, "此活动报名已截止"),
        (cancelled, "此活动已取消"),
        (elsewhere, "此活动不面向您所在的楼栋或分组"),
        (full, "此活动名额已满"),
    ):
        response = client.post(f"/portal/activities/{activity}/sign-up", follow_redirects=True)
        assert response.status_code in (200, 404)
        if response.status_code == 200:
            assert message in response.get_data(as_text=True), message
        with acting_as(resident_principal(mine)):
            try:
                activities.sign_up(db.session, activity, mine, utcnow())
            except DomainError as error:
                assert message in str(error)
            else:
                raise AssertionError(f"{message}: accepted")
    assert client.post(f"/portal/activities/{draft}/sign-up").status_code == 404
    assert client.get(f"/portal/activities/{draft}").status_code == 404
    assert client.get(f"/portal/activities/{elsewhere}").status_code == 404
    assert db.session.execute(select(ActivitySignUp.customer_id)).scalars().all() == [theirs]
    assert _count(full) == 1 and _count(closed) == 0


def test_a_sign_up_cannot_be_cancelled_after_the_deadline(session, now):
    east, west, mine, theirs = _estate(session)
    activity = _activity(now, sign_up_deadline=now + HOUR)
    with acting_as(resident_principal(mine)):
        row = activities.sign_up(db.session, activity, mine, utcnow())
        try:
            activities.cancel_sign_up(db.session, row.id, mine, now + 2 * HOUR)
        except DomainError as error:
            assert "报名截止后不能再取消报名" in str(error)
        else:
            raise AssertionError("cancelled after the deadline")
    assert _count(activity) == 1


def test_another_residents_sign_up_is_not_found(session, resident_login, now):
    east, west, mine, theirs = _estate(session)
    activity = _activity(now)
    with acting_as(resident_principal(theirs)):
        row = activities.sign_up(db.session, activity, theirs, utcnow())
    response = resident_login(mine).post(f"/portal/activities/sign-ups/{row.id}/cancel")
    assert response.status_code == 404
    db.session.expunge_all()
    with acting_as(resident_principal(mine)):
        assert db.session.get(ActivitySignUp, row.id) is None  # their row is not in my scope at all
    db.session.expire_all()
    assert db.session.get(ActivitySignUp, row.id).cancelled_at is None and _count(activity) == 1


def test_signed_out_visitors_and_staff_reach_no_activity_page(session, app, login, now):
    _estate(session)
    activity = _activity(now)
    for client in (app.test_client(), login("Admin")):
        for response in (
            client.get("/portal/activities"),
            client.get(f"/portal/activities/{activity}"),
            client.post(f"/portal/activities/{activity}/sign-up"),
        ):
            assert response.status_code == 302 and "/portal/sign-in" in response.headers["Location"]
    assert db.session.execute(select(ActivitySignUp)).all() == []


def test_a_resident_reaches_no_staff_activity_page(session, resident_login, now):
    east, west, mine, theirs = _estate(session)
    activity = _activity(now)
    client = resident_login(mine)
    assert client.get("/activityview/list/").status_code == 302
    assert client.get(f"/activityview/show/{activity}").status_code == 302
    assert client.get("/activitysignupview/list/").status_code == 302


def test_capacity_holds_under_concurrent_sign_ups(app, session, now):
    east = factories.building(name="东苑")
    customers = [factories.customer(units=[factories.unit(building_obj=east)]).id for _ in range(8)]
    activity = _activity(now, capacity=3, buildings=[east])
    db.session.commit()
    db.session.close()  # no transaction of the test's own holds the database
    start = threading.Barrier(len(customers))
    outcomes = []

    def sign_up(customer_id):
        with app.app_context():
            with acting_as(resident_principal(customer_id)):
                start.wait()
                try:
                    activities.sign_up(db.session, activity, customer_id, utcnow())
                    outcomes.append("in")
                except DomainError as error:
                    outcomes.append(str(error))
                finally:
                    db.session.remove()

    threads = [threading.Thread(target=sign_up, args=(c,)) for c in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["in"] * 3 + ["此活动名额已满。"] * 5
    assert len(db.session.execute(select(ActivitySignUp)).all()) == 3
    assert _count(activity) == 3


def _days_ahead(today, days, at):
    """A local date-time as staff type it, ``days`` after the test's today."""
    return f"{today + datetime.timedelta(days=days):%Y-%m-%d} {at}"


def test_staff_publish_see_the_sign_ups_and_mark_attendance(session, login, now, today):
    east, west, mine, theirs = _estate(session)
    desk = login("Service")
    form = {
        "title": "业主联谊会",
        "place": "会所二楼",
        "starts_at": _days_ahead(today, 12, "14:00"),
        "ends_at": _days_ahead(today, 12, "17:00"),
        "sign_up_deadline": _days_ahead(today, 11, "18:00"),
        "capacity": "20",
        "status": "published",
        "buildings": [str(east.id)],
    }
    assert desk.post("/activityview/add", data=form).status_code == 302
    activity = db.session.execute(select(Activity)).scalar_one()
    assert activity.signed_up_count == 0 and [b.name for b in activity.buildings] == ["东苑"]
    with acting_as(resident_principal(mine)):
        row = activities.sign_up(db.session, activity.id, mine, utcnow())
    page = desk.get(f"/activityview/show/{activity.id}").get_data(as_text=True)
    assert "业主联谊会" in page and f"/activityview/related/{activity.id}/ActivitySignUpView" in page
    listed = desk.get(f"/activityview/related/{activity.id}/ActivitySignUpView").get_data(as_text=True)
    assert "王秀英" in listed
    response = desk.post("/activitysignupview/action_post", data={"action": "mark_attended", "rowid": [str(row.id)]})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ActivitySignUp, row.id).attended is True
    # the customer's timeline shows the sign-up
    timeline = desk.get(f"/customerview/timeline/{mine}").get_data(as_text=True)
    assert "报名活动：业主联谊会" in timeline


def test_bad_activity_forms_are_refused_with_a_reason(session, login, today):
    desk = login("Service")
    form = {
        "title": "业主联谊会",
        "place": "会所二楼",
        "starts_at": _days_ahead(today, 12, "14:00"),
        "ends_at": _days_ahead(today, 12, "12:00"),
        "sign_up_deadline": _days_ahead(today, 11, "18:00"),
        "capacity": "20",
        "status": "published",
    }
    response = desk.post("/activityview/add", data=form, follow_redirects=True)
    assert "活动结束时间不能早于开始时间" in response.get_data(as_text=True)
    response = desk.post(
        "/activityview/add", data=dict(form, ends_at=_days_ahead(today, 13, "12:00")), follow_redirects=True
    )
    assert "报名截止时间须早于活动结束时间" not in response.get_data(as_text=True)
    db.session.execute(select(Activity)).scalar_one()  # that one was fine
    db.session.query(Activity).delete()
    db.session.commit()
    response = desk.post("/activityview/add", data=dict(form, ends_at=_days_ahead(today, 12, "17:00"), capacity="0"))
    assert response.status_code == 200  # the form again, with the capacity's message
    assert db.session.execute(select(Activity)).all() == []


def test_cancelling_is_on_the_timeline(session, login, now):
    east, west, mine, theirs = _estate(session)
    activity = _activity(now, title="读书会")
    with acting_as(resident_principal(mine)):
        row = activities.sign_up(db.session, activity, mine, utcnow())
        activities.cancel_sign_up(db.session, row.id, mine, utcnow())
    text = login("Service").get(f"/customerview/timeline/{mine}").get_data(as_text=True)
    assert "报名活动：读书会" in text and "取消报名：读书会" in text
    assert db.session.execute(select(ChangeLog).where(ChangeLog.resource == "ActivitySignUp")).first() is not None


def test_the_sign_up_list_shows_units_and_phones_as_field_levels_allow(app, session, login, now):
    from tests.test_field_permissions import configure

    east, west, mine, theirs = _estate(session)
    activity = _activity(now)
    with acting_as(resident_principal(mine)):
        activities.sign_up(db.session, activity, mine, utcnow())
    phone = db.session.get(Customer, mine).phone
    listed = login("Service").get(f"/activityview/related/{activity}/ActivitySignUpView").get_data(as_text=True)
    assert "王秀英" in listed and "东苑-" in listed and phone in listed
    configure(app, "Service", "Customer", "phone", "hidden")
    configure(app, "Service", "Customer", "units", "hidden")
    listed = login("Service").get(f"/activityview/related/{activity}/ActivitySignUpView").get_data(as_text=True)
    assert "王秀英" in listed and phone not in listed and "东苑-" not in listed


def test_the_same_resident_tapping_twice_at_once_signs_up_once(app, session, now):
    east, west, mine, theirs = _estate(session)
    activity = _activity(now, capacity=10)
    db.session.commit()
    db.session.close()
    start = threading.Barrier(4)
    outcomes = []

    def sign_up():
        with app.app_context():
            with acting_as(resident_principal(mine)):
                start.wait()
                try:
                    activities.sign_up(db.session, activity, mine, utcnow())
                    outcomes.append("in")
                except DomainError as error:
                    outcomes.append(str(error))
                finally:
                    db.session.remove()

    threads = [threading.Thread(target=sign_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["in"] + ["您已报名此活动。"] * 3
    assert len(db.session.execute(select(ActivitySignUp)).all()) == 1 and _count(activity) == 1
