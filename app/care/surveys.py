"""Satisfaction surveys (满意度调查): send personal links to a segment, take answers once, show results.

- The segment is the broadcasts' one (app.notices.broadcasts.segment): buildings, tags, customer type.
- Sending writes one SurveyRecipient and one outbox message per customer (unique per survey and
  customer, so sending again adds nobody twice); the message carries a signed personal link
  holding only the recipient's id, valid ``link_days`` days.
- Answering claims the recipient with a conditional UPDATE (answered_at IS NULL), so answers are
  taken once per recipient even from two tabs at the same moment.
"""

import types as pytypes

from flask_babel import lazy_gettext as _
from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.admin import tasks
from app.core.signing import serializer
from app.core.errors import DomainError
from app.models import Customer, Survey, SurveyAnswer, SurveyQuestion, SurveyRecipient
from app.notices.notify import channel_order, customer_channels, customer_message, render
from app.policy.permissions import ACTION_EDIT, RESOURCE_SURVEY
from app.core.column_types import utcnow
from app.notices.broadcasts import segment
from app.models import BackgroundTask

SALT = "survey-link"
SUBJECT = "满意度调查：{title}"
BODY = "尊敬的{customer_name}：诚邀您参加「{title}」，您的意见将帮助我们改进服务。请点击填写：{link}"


class SurveyLinkError(DomainError):
    """A survey link that is forged, expired, already used, or for a survey no longer open."""


def _serializer(secret_key):
    return serializer(secret_key, SALT)


def make_token(secret_key, recipient):
    return _serializer(secret_key).dumps({"r": recipient.id})


def survey_url(base_url, secret_key, recipient):
    return f"{base_url.rstrip('/')}/survey/{make_token(secret_key, recipient)}"


def check_question(question):
    if question.kind in ("single", "multiple") and len(question.option_list) < 2:
        raise DomainError(_("A choice question needs at least two options, one per line."), field="options")
    if question.survey is not None and question.survey.status != "draft":
        raise DomainError(_("The questions of a survey that has been sent cannot be changed."))


def check_survey(survey):
    if survey.id is not None and survey.status != "draft":
        raise DomainError(_("A survey that has been sent cannot be changed."))
    if survey.link_days is not None and not 1 <= survey.link_days <= 365:
        raise DomainError(_("Between 1 and 365 days."), field="link_days")


def segment_of(survey, today):

    criteria = pytypes.SimpleNamespace(
        buildings=survey.buildings,
        tags=survey.tags,
        customer_type=survey.customer_type,
        saved_view=None,
        min_arrears=None,
    )
    return segment(criteria, today)


def send(session, survey, now, base_url, secret_key, responsible_user_id=None, chunk=500):
    """Send the survey to its segment: a recipient row and an outbox message each. Returns recipients added.
    (From the page, the same work is a background task with progress: SurveySendTask.)"""
    check_sendable(survey)
    order = channel_order()
    added, last_id = 0, 0
    while True:
        last_id, seen, batch_added = send_batch(
            session, survey, now, base_url, secret_key, responsible_user_id, last_id, chunk, order
        )
        added += batch_added
        if seen < chunk:
            break
    mark_sent(session, survey, now)
    session.commit()
    return added


def check_sendable(survey):
    if survey.status != "draft":
        raise DomainError(_("This survey has already been sent."))
    if not survey.questions:
        raise DomainError(_("Add at least one question before sending the survey."))


def send_batch(session, survey, now, base_url, secret_key, responsible_user_id, after_customer_id, limit, order):
    """The next ``limit`` customers of the segment after ``after_customer_id``: a recipient row and an
    outbox message each, unless already there (not committed). Returns (last id, customers seen, added)."""
    ids = (
        session.execute(segment_of(survey, now.date()).where(Customer.id > after_customer_id).limit(limit))
        .scalars()
        .all()
    )
    if not ids:
        return after_customer_id, 0, 0
    done = set(
        session.execute(
            select(SurveyRecipient.customer_id).where(
                SurveyRecipient.survey_id == survey.id, SurveyRecipient.customer_id.in_(ids)
            )
        ).scalars()
    )
    added = 0
    for customer in session.execute(select(Customer).where(Customer.id.in_(ids)).order_by(Customer.id)).scalars():
        if customer.id in done:
            continue
        chain = customer_channels(customer, order, responsible_user_id)
        if not chain:
            continue
        recipient = SurveyRecipient(survey_id=survey.id, customer_id=customer.id, sent_at=now)
        session.add(recipient)
        session.flush()
        values = {
            "customer_name": customer.name,
            "title": survey.title,
            "link": survey_url(base_url, secret_key, recipient),
        }
        session.add(
            customer_message(
                customer,
                chain,
                render(SUBJECT, values),
                render(BODY, values),
                now,
                responsible_user_id,
                dedupe_key=f"survey:{survey.id}:customer:{customer.id}",
            )
        )
        added += 1
    session.flush()
    return ids[-1], len(ids), added


def mark_sent(session, survey, now):
    survey.status, survey.sent_at = "sent", now
    survey.recipient_count = session.execute(
        select(func.count()).select_from(SurveyRecipient).where(SurveyRecipient.survey_id == survey.id)
    ).scalar_one()


class SurveySendTask(tasks.TaskKind):
    """发送调查 from the page: the segment a batch of customers at a time, with progress. Each batch's
    recipients and messages are committed with the cursor (the last customer), and both are keyed
    by survey and customer, so a resumed send adds nobody twice. The survey is marked sent at the end."""

    name = "survey_send"
    title = _("Send to customers")

    def permissions(self, args):
        return [(ACTION_EDIT, RESOURCE_SURVEY)]

    def check(self, session, args):

        survey = session.get(Survey, args.get("survey_id")) if isinstance(args.get("survey_id"), int) else None
        if survey is None:
            raise DomainError(_("No such survey."))
        check_sendable(survey)
        busy = (
            session.execute(
                select(BackgroundTask.id).where(
                    BackgroundTask.kind == self.name, BackgroundTask.status.in_(("queued", "running"))
                )
            )
            .scalars()
            .all()
        )
        if any(session.get(BackgroundTask, task_id).args.get("survey_id") == survey.id for task_id in busy):
            raise DomainError(_("This survey is being sent."))

    def prepare(self, session, task):
        from flask import current_app

        survey = session.get(Survey, task.args["survey_id"])
        if survey is None:
            raise DomainError(_("No such survey."))
        if task.cursor is None:
            check_sendable(survey)
            task.cursor = {"after": 0, "added": 0}
            task.total = session.execute(
                select(func.count()).select_from(segment_of(survey, utcnow().date()).subquery())
            ).scalar_one()
        config = current_app.config
        return {
            "survey": survey,
            "order": channel_order(),
            "base_url": config["CRM_BASE_URL"],
            "secret_key": config["SECRET_KEY"],
        }

    def step(self, session, task, state, batch):
        after, seen, added = send_batch(
            session,
            state["survey"],
            utcnow(),
            state["base_url"],
            state["secret_key"],
            task.actor_id,
            task.cursor["after"],
            batch,
            state["order"],
        )
        task.cursor = {"after": after, "added": task.cursor["added"] + added}
        task.done = (task.done or 0) + seen
        task.result = {"added": task.cursor["added"]}
        if seen < batch:
            task.total = task.done
            mark_sent(session, state["survey"], utcnow())
            return True
        return False

    def summary(self, task):
        return _("Sent to %(count)s customers through the outbox.", count=(task.result or {}).get("added", 0))

    def link(self, task):
        return ("SurveyView.results", {"pk": task.args.get("survey_id")})


tasks.register(SurveySendTask())


def close(session, survey):
    if survey.status != "sent":
        raise DomainError(_("Only a survey that has been sent can be closed."))
    survey.status = "closed"
    session.commit()


def recipient_for_token(session, secret_key, token):
    """The recipient a personal link is for, or SurveyLinkError with a reason a customer can read."""
    try:
        data, signed_at = _serializer(secret_key).loads(token, return_timestamp=True)
    except SignatureExpired:  # pragma: no cover - no max_age here; the survey's own limit applies below
        raise SurveyLinkError(_("This survey link has expired."))
    except BadSignature:
        raise SurveyLinkError(_("This survey link is not valid."))
    recipient = session.get(SurveyRecipient, data.get("r")) if isinstance(data, dict) else None
    if recipient is None:
        raise SurveyLinkError(_("This survey link is not valid."))
    return recipient, signed_at


def open_recipient(session, secret_key, token, now):
    """Check a link: genuine, within the survey's days, survey still open, not answered yet."""
    recipient, signed_at = recipient_for_token(session, secret_key, token)
    survey = recipient.survey
    if (now - signed_at).total_seconds() > survey.link_days * 86400:
        raise SurveyLinkError(_("This survey link has expired."))
    if recipient.answered_at is not None:
        raise SurveyLinkError(_("Thank you — you have already answered this survey."))
    if survey.status != "sent":
        raise SurveyLinkError(_("This survey is closed."))
    return recipient


def parse_answers(questions, form):
    """The answers from a submitted form (a dict of lists), checked against the questions."""
    answers = {}
    for question in questions:
        key = f"q{question.id}"
        values = [v.strip() for v in form.get(key, []) if v and v.strip()]
        if not values:
            if question.required:
                raise DomainError(_("Please answer question %(n)s.", n=question.position), field=key)
            continue
        if question.kind == "rating":
            try:
                rating = int(values[0])
            except ValueError:
                rating = 0
            if not 1 <= rating <= 5:
                raise DomainError(_("Choose from 1 to 5 for question %(n)s.", n=question.position), field=key)
            answers[question.id] = {"rating": rating}
        elif question.kind in ("single", "multiple"):
            options = question.option_list
            if any(v not in options for v in values) or (question.kind == "single" and len(values) > 1):
                raise DomainError(
                    _("Choose from the options given for question %(n)s.", n=question.position), field=key
                )
            answers[question.id] = {"choices": "\n".join(dict.fromkeys(values))}
        else:
            answers[question.id] = {"text": values[0][:2000]}
    return answers


def submit_answers(session, recipient, form, now):
    """Record one recipient's answers, once. Checks first; nothing is saved when anything is wrong."""
    answers = parse_answers(recipient.survey.questions, form)
    claimed = session.execute(
        update(SurveyRecipient)
        .where(SurveyRecipient.id == recipient.id, SurveyRecipient.answered_at.is_(None))
        .values(answered_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        session.rollback()
        raise SurveyLinkError(_("Thank you — you have already answered this survey."))
    for question_id, values in answers.items():
        session.add(SurveyAnswer(recipient_id=recipient.id, question_id=question_id, **values))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise SurveyLinkError(_("Thank you — you have already answered this survey."))
    return len(answers)


def results(session, survey):
    """Per question: how many answered, the bars to draw (label, count), the average rating, the texts."""
    answers = (
        session.execute(select(SurveyAnswer).join(SurveyQuestion).where(SurveyQuestion.survey_id == survey.id))
        .scalars()
        .all()
    )
    by_question = {}
    for answer in answers:
        by_question.setdefault(answer.question_id, []).append(answer)
    out = []
    for question in survey.questions:
        rows = by_question.get(question.id, [])
        item = {"question": question, "count": len(rows), "bars": [], "average": None, "texts": []}
        if question.kind == "rating":
            counts = {n: 0 for n in range(1, 6)}
            for row in rows:
                counts[row.rating] = counts.get(row.rating, 0) + 1
            item["bars"] = [(str(_("%(n)s stars", n=n)), counts[n]) for n in range(5, 0, -1)]
            item["average"] = round(sum(r.rating for r in rows) / len(rows), 2) if rows else None
        elif question.kind in ("single", "multiple"):
            counts = dict.fromkeys(question.option_list, 0)
            for row in rows:
                for choice in (row.choices or "").splitlines():
                    counts[choice] = counts.get(choice, 0) + 1
            item["bars"] = list(counts.items())
        else:
            item["texts"] = [row.text for row in rows if row.text]
        out.append(item)
    return out


def response_figures(session, survey):
    sent = survey.recipient_count or 0
    answered = session.execute(
        select(func.count())
        .select_from(SurveyRecipient)
        .where(SurveyRecipient.survey_id == survey.id, SurveyRecipient.answered_at.isnot(None))
    ).scalar_one()
    return {"sent": sent, "answered": answered, "rate": round(100 * answered / sent, 1) if sent else None}


def trend(session, survey):
    """The rounds of this survey's series (sent, oldest first): average rating and response rate each."""
    if not survey.series:
        rounds = [survey] if survey.status != "draft" else []
    else:
        rounds = (
            session.execute(
                select(Survey)
                .where(Survey.series == survey.series, Survey.status != "draft")
                .order_by(Survey.sent_at, Survey.id)
            )
            .scalars()
            .all()
        )
    out = []
    for item in rounds:
        average = session.execute(
            select(func.avg(SurveyAnswer.rating))
            .join(SurveyQuestion)
            .where(SurveyQuestion.survey_id == item.id, SurveyAnswer.rating.isnot(None))
        ).scalar_one()
        out.append(
            {
                "survey": item,
                "average": round(float(average), 2) if average is not None else None,
                **response_figures(session, item),
            }
        )
    return out


def answer_rows(session, survey):
    """(labels, rows) for the Excel export: one row per recipient who answered, one column per question."""
    questions = list(survey.questions)
    labels = [str(_("Customer")), str(_("Answered at"))] + [f"{q.position}. {q.text}" for q in questions]
    recipients = (
        session.execute(
            select(SurveyRecipient)
            .where(SurveyRecipient.survey_id == survey.id, SurveyRecipient.answered_at.isnot(None))
            .order_by(SurveyRecipient.answered_at, SurveyRecipient.id)
        )
        .scalars()
        .all()
    )
    answers = {}
    for answer in session.execute(
        select(SurveyAnswer).where(SurveyAnswer.recipient_id.in_([r.id for r in recipients] or [0]))
    ).scalars():
        answers[(answer.recipient_id, answer.question_id)] = answer
    rows = []
    for recipient in recipients:
        row = [recipient.customer.name if recipient.customer else "", recipient.answered_at]
        for question in questions:
            answer = answers.get((recipient.id, question.id))
            if answer is None:
                row.append(None)
            elif question.kind == "rating":
                row.append(answer.rating)
            elif question.kind in ("single", "multiple"):
                row.append("、".join((answer.choices or "").splitlines()))
            else:
                row.append(answer.text)
        rows.append(row)
    return labels, rows
