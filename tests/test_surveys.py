"""Satisfaction surveys: personal signed links, answers taken once, results per question, trend, Excel."""

import datetime
import io

import pytest
from itsdangerous import URLSafeTimedSerializer
from openpyxl import load_workbook

from app.care import surveys
from app.core.errors import DomainError
from app.extensions import db
from app.models import OutboxMessage, Survey, SurveyAnswer, SurveyQuestion, SurveyRecipient
from app.core.column_types import utcnow
from tests import factories

BASE = "http://crm.example"


def survey(title="2026年第四季度满意度调查", series="季度满意度", **kw):
    obj = Survey(title=title, series=series, link_days=14, status="draft", **kw)
    obj.questions = [
        SurveyQuestion(position=1, text="您对物业服务的总体评价", kind="rating", required=True),
        SurveyQuestion(position=2, text="您最满意的方面", kind="multiple", options="保洁\n安保\n维修", required=True),
        SurveyQuestion(position=3, text="您的建议", kind="text", required=False),
    ]
    db.session.add(obj)
    db.session.commit()
    return obj


def sent(app, customers=3, **kw):
    for _ in range(customers):
        factories.customer()
    s = survey(**kw)
    surveys.send(db.session, s, utcnow(), BASE, app.config["SECRET_KEY"])
    return s


def link_token(message):
    return message.body.rsplit("/survey/", 1)[1]


def form_for(s, rating="4", choices=("保洁",), text="电梯需要更勤保养"):
    q1, q2, q3 = s.questions
    return {f"q{q1.id}": [rating], f"q{q2.id}": list(choices), f"q{q3.id}": [text]}


def test_sending_gives_each_customer_of_the_segment_one_personal_link(app, ctx):
    tag = factories.tag(name="业委会")
    inside = factories.customer(tags=[tag])
    factories.customer()
    s = survey()
    s.tags = [tag]
    db.session.commit()
    assert surveys.send(db.session, s, utcnow(), BASE, app.config["SECRET_KEY"]) == 1
    message = db.session.query(OutboxMessage).one()
    assert message.customer_id == inside.id and f"{BASE}/survey/" in message.body
    assert (s.status, s.recipient_count) == ("sent", 1)
    with pytest.raises(DomainError, match="已发送"):
        surveys.send(db.session, s, utcnow(), BASE, app.config["SECRET_KEY"])
    assert db.session.query(SurveyRecipient).count() == 1


def test_a_survey_without_questions_is_not_sent(app, ctx):
    factories.customer()
    s = Survey(title="空调查", link_days=14, status="draft")
    db.session.add(s)
    db.session.commit()
    with pytest.raises(DomainError, match="至少添加一道题目"):
        surveys.send(db.session, s, utcnow(), BASE, app.config["SECRET_KEY"])
    assert db.session.query(OutboxMessage).count() == 0


def test_a_link_is_answered_once(app, ctx):
    s = sent(app, customers=1)
    message = db.session.query(OutboxMessage).one()
    client = app.test_client()
    token = link_token(message)
    page = client.get(f"/survey/{token}")
    assert page.status_code == 200 and "您对物业服务的总体评价" in page.get_data(as_text=True)
    done = client.post(f"/survey/{token}", data=form_for(s))
    assert "感谢您的参与" in done.get_data(as_text=True)
    again = client.post(f"/survey/{token}", data=form_for(s, rating="1"))
    assert again.status_code == 400 and "已填写过" in again.get_data(as_text=True)
    assert client.get(f"/survey/{token}").status_code == 400
    answers = {a.question.position: a for a in db.session.query(SurveyAnswer)}
    assert (answers[1].rating, answers[2].choices, answers[3].text) == (4, "保洁", "电梯需要更勤保养")
    assert db.session.query(SurveyRecipient).one().answered_at is not None


def test_submitting_twice_at_once_keeps_one_set_of_answers(app, ctx):
    s = sent(app, customers=1)
    recipient = db.session.query(SurveyRecipient).one()
    surveys.submit_answers(db.session, recipient, form_for(s), utcnow())
    with pytest.raises(surveys.SurveyLinkError):
        surveys.submit_answers(db.session, recipient, form_for(s, rating="2"), utcnow())
    assert [a.rating for a in db.session.query(SurveyAnswer) if a.rating] == [4]


def test_forged_expired_and_closed_links_are_refused(app, ctx):
    s = sent(app, customers=2)
    first, second = db.session.query(SurveyRecipient).order_by(SurveyRecipient.id).all()
    secret = app.config["SECRET_KEY"]
    forged = URLSafeTimedSerializer("not-the-secret", salt=surveys.SALT).dumps({"r": first.id})
    for token in (forged, "garbage", surveys.make_token(secret, first)[:-3] + "abc"):
        response = app.test_client().post(f"/survey/{token}", data=form_for(s))
        assert response.status_code == 400 and "链接无效" in response.get_data(as_text=True)
    token = surveys.make_token(secret, first)
    later = utcnow() + datetime.timedelta(days=15)  # the survey's links last 14 days
    with pytest.raises(surveys.SurveyLinkError, match="已过期"):
        surveys.open_recipient(db.session, secret, token, later)
    assert surveys.open_recipient(db.session, secret, token, utcnow() + datetime.timedelta(days=13)) == first
    surveys.close(db.session, s)
    response = app.test_client().post(f"/survey/{surveys.make_token(secret, second)}", data=form_for(s))
    assert response.status_code == 400 and "已结束" in response.get_data(as_text=True)
    assert db.session.query(SurveyAnswer).count() == 0


def test_bad_answers_get_a_clear_message_and_save_nothing(app, ctx):
    s = sent(app, customers=1)
    token = link_token(db.session.query(OutboxMessage).one())
    client = app.test_client()
    for form, message in (
        (form_for(s, rating="9"), "1 到 5"),
        (form_for(s, choices=("游泳池",)), "给出的选项"),
        ({}, "请回答第 1 题"),
    ):
        response = client.post(f"/survey/{token}", data=form)
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db.session.query(SurveyAnswer).count() == 0
    assert db.session.query(SurveyRecipient).one().answered_at is None
    # the optional text question may stay empty
    assert client.post(f"/survey/{token}", data=form_for(s, text="")).status_code == 200


def answer_all(s, ratings, choices):
    for recipient, rating, chosen in zip(s.recipients, ratings, choices):
        surveys.submit_answers(db.session, recipient, form_for(s, rating=str(rating), choices=chosen), utcnow())


def test_results_per_question_and_the_trend_across_rounds(app, ctx):
    first = sent(app, customers=3, title="第一轮")
    answer_all(first, [3, 4, 5], [("保洁",), ("保洁", "安保"), ("维修",)])
    second = survey(title="第二轮")
    surveys.send(db.session, second, utcnow() + datetime.timedelta(days=90), BASE, app.config["SECRET_KEY"])
    answer_all(second, [5, 5], [("安保",), ("安保",)])
    rating, choice, text = surveys.results(db.session, first)
    assert rating["average"] == 4.0 and rating["count"] == 3
    assert dict(rating["bars"]) == {"5 星": 1, "4 星": 1, "3 星": 1, "2 星": 0, "1 星": 0}
    assert choice["bars"] == [("保洁", 2), ("安保", 1), ("维修", 1)]
    assert text["texts"] == ["电梯需要更勤保养"] * 3
    trend = surveys.trend(db.session, second)
    assert [(t["survey"].title, t["average"], t["answered"], t["sent"]) for t in trend] == [
        ("第一轮", 4.0, 3, 3),
        ("第二轮", 5.0, 2, 3),
    ]


def test_results_page_draws_the_chart_and_exports_answers(app, ctx, login):
    s = sent(app, customers=2)
    answer_all(s, [5, 2], [("保洁",), ("维修",)])
    client = login("Service")
    page = client.get(f"/surveyview/results/{s.id}").get_data(as_text=True)
    assert "<svg" in page and 'class="survey-bar"' in page and 'data-count="1"' in page
    assert "已发送给 2 位客户，2 位已作答" in page
    response = client.get(f"/surveyview/export_answers/{s.id}")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.values)
    assert rows[0][2] == "1. 您对物业服务的总体评价" and len(rows) == 3
    assert sorted(r[2] for r in rows[1:]) == [2, 5]
    # the technician has no survey pages at all
    assert login("Technician").get(f"/surveyview/results/{s.id}").status_code in (302, 403)


def test_questionnaire_built_on_the_pages_and_locked_once_sent(app, ctx, login):
    factories.customer()
    client = login("Service")
    assert client.post("/surveyview/add", data={"title": "入住满意度", "link_days": "14"}).status_code == 302
    s = db.session.query(Survey).one()
    bad = client.post(
        "/surveyquestionview/add",
        data={"survey": str(s.id), "position": "1", "text": "最喜欢哪项", "kind": "single", "options": "只有一个"},
        follow_redirects=True,
    )
    assert "至少需要两个选项" in bad.get_data(as_text=True)
    client.post(
        "/surveyquestionview/add",
        data={"survey": str(s.id), "position": "1", "text": "总体评价", "kind": "rating", "required": "y"},
    )
    # from the survey's page: the "add" of its questions list knows the survey
    client.post(f"/surveyquestionview/add?_flt_0_survey={s.id}", data={"position": "2", "text": "建议", "kind": "text"})
    assert [(q.text, q.required) for q in db.session.query(SurveyQuestion).order_by(SurveyQuestion.position)] == [
        ("总体评价", True),
        ("建议", False),
    ]
    response = client.post(f"/surveyview/action/send_survey/{s.id}")
    assert "task=" in response.headers["Location"]  # queued: the scheduler's worker sends it
    db.session.expire_all()
    assert s.status == "draft" and db.session.query(SurveyRecipient).count() == 0
    from app.admin.tasks import run_pending

    run_pending(db.session, utcnow())
    db.session.expire_all()
    assert s.status == "sent" and s.recipient_count == 1
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="crm-task"' in page
    locked = client.post(f"/surveyview/edit/{s.id}", data={"title": "改名", "link_days": "14"}, follow_redirects=True)
    assert "已发送的调查不能修改" in locked.get_data(as_text=True)
    db.session.expire_all()
    assert s.title == "入住满意度"
