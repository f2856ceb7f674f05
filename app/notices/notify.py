"""Notifications: templates, the staff inbox, and the outbox that a job delivers.

- Templates are rows admins edit; ``{name}`` placeholders, checked against each notice's
  variables when saved (a typo is refused, not sent to a customer). A missing row falls back
  to the built-in wording.
- Staff get notices in their in-app inbox at once (same transaction as the change).
- Customers get notices through the outbox: their preferred channel first, then the
  configured order, skipping channels they have no address on; in-app (a staff member is asked
  to pass it on by phone) is the last resort. Requests only queue; ``deliver_outbox`` sends.
- Delivery claims each row with a conditional UPDATE before sending, so two workers never send
  the same row; failures are retried with back-off, then the next channel is tried, and every
  failure is written to the row's log.
"""

import datetime

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _
from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session

from app.core import placeholders
from app.core.column_types import NOTIFY_CHANNELS, PRIORITIES, TEMPLATE_KEYS, TICKET_TYPES
from app.core.errors import DomainError
from app.core.people import person_name
from app.core.redaction import for_passing_on
from app.models import Customer, MessageTemplate, Notification, OutboxMessage, StaffProfile
from app.notices.channels import PermanentFailure
from app.policy.permissions import ACTION_ESCALATION_LEVEL_1, ACTION_ESCALATION_LEVEL_2, RESOURCE_ESCALATION
from app.policy.principal import users_with_permission
from app.portal.links import sign_in_url

DEFAULT_CHANNEL_ORDER = ("wechat", "sms", "email", "inapp")
MAX_ATTEMPTS = 4  # per channel, before falling back to the next one
BACKOFF = datetime.timedelta(minutes=1)  # doubled after each failed attempt
STALE_CLAIM = datetime.timedelta(minutes=15)

VARIABLES = {
    "assignment_notice": (
        "ticket_number",
        "title",
        "ticket_type",
        "priority",
        "address",
        "customer_name",
        "response_due",
        "resolution_due",
    ),
    "escalation_notice": (
        "ticket_number",
        "title",
        "ticket_type",
        "priority",
        "level",
        "assignee",
        "department",
        "resolution_due",
    ),
    "completion_notice": (
        "customer_name",
        "ticket_number",
        "title",
        "ticket_type",
        "resolution",
        "rating_link",
        "portal_link",
    ),
    "payment_reminder": (
        "customer_name",
        "total_outstanding",
        "bill_count",
        "periods",
        "oldest_due_date",
        "portal_link",
    ),
    "contract_expiry": (
        "contract_number",
        "title",
        "party",
        "end_date",
        "due_date",
        "amount",
        "payment_cycle",
        "days_left",
    ),
    "contract_rent_due": (
        "contract_number",
        "title",
        "party",
        "end_date",
        "due_date",
        "amount",
        "payment_cycle",
        "days_left",
    ),
    "return_visit_unsatisfied": ("ticket_number", "title", "customer_name", "result", "notes", "visited_by"),
    "birthday_greeting": ("customer_name", "portal_link"),
    "renovation_inspection_due": ("unit", "customer_name", "contractor", "works_end", "inspection_due"),
    "renovation_overrun": ("unit", "customer_name", "contractor", "works_end", "days_over"),
    "reminder_notice": ("ticket_number", "title", "ticket_type", "address", "customer_name", "assignee", "count"),
    "portal_sign_in_code": ("code", "minutes"),
}
DEFAULT_TEMPLATES = {
    "assignment_notice": (
        "新工单 {ticket_number}：{title}",
        "您有一张新工单 {ticket_number}（{ticket_type}，{priority}优先级）：{title}\n"
        "地址：{address}　客户：{customer_name}\n请在 {response_due} 前响应，{resolution_due} 前处理完毕。",
    ),
    "escalation_notice": (
        "工单超时升级（{level}级）：{ticket_number}",
        "工单 {ticket_number}「{title}」（{ticket_type}）已超时，升级为 {level} 级，当前优先级：{priority}。\n"
        "处理人：{assignee}　部门：{department}　处理时限：{resolution_due}",
    ),
    "completion_notice": (
        "您的诉求已处理完毕",
        "尊敬的{customer_name}：您的{ticket_type}诉求（{ticket_number}「{title}」）已处理完毕。\n"
        "处理结果：{resolution}\n欢迎为本次服务评价：{rating_link}",
    ),
    "payment_reminder": (
        "缴费提醒",
        "尊敬的{customer_name}：您有 {bill_count} 笔费用（{periods}）尚未缴清，合计 {total_outstanding} 元，"
        "最早一笔已于 {oldest_due_date} 到期。请尽快通过物业服务中心缴纳，或在住户服务中在线缴费：{portal_link}"
        "　如已缴纳请忽略本提醒。",
    ),
    "contract_expiry": (
        "合同即将到期：{contract_number}",
        "合同 {contract_number}「{title}」（{party}）将于 {end_date} 到期，还有 {days_left} 天，请及时办理续签或退租。",
    ),
    "contract_rent_due": (
        "租金到期提醒：{contract_number}",
        "合同 {contract_number}「{title}」（{party}）的{payment_cycle}租金 {amount} 元将于 {due_date} 到期"
        "（还有 {days_left} 天），请跟进收款。",
    ),
    "return_visit_unsatisfied": (
        "回访不满意：{ticket_number}",
        "工单 {ticket_number}「{title}」回访结果：客户{customer_name}不满意。\n回访人：{visited_by}　备注：{notes}",
    ),
    "birthday_greeting": (
        "生日快乐",
        "尊敬的{customer_name}：今天是您的生日，物业服务中心全体员工祝您生日快乐，阖家幸福！",
    ),
    "renovation_inspection_due": (
        "装修验收到期：{unit}",
        "{unit}（业主：{customer_name}，施工方：{contractor}）的装修已完工，应于 {inspection_due} 前完成验收。",
    ),
    "renovation_overrun": (
        "装修超期：{unit}",
        "{unit}（业主：{customer_name}，施工方：{contractor}）的装修原定 {works_end} 完工，已超期 {days_over} 天，请跟进。",
    ),
    "reminder_notice": (
        "住户催单：{ticket_number}",
        "住户{customer_name}催促工单 {ticket_number}「{title}」（{ticket_type}，{address}），这是第 {count} 次催单，"
        "请尽快处理并与住户联系。处理人：{assignee}",
    ),
    "portal_sign_in_code": (
        "登录验证码",
        "【物业】您的登录验证码是 {code}，{minutes}分钟内有效。如非本人操作，请忽略本短信。",
    ),
}


# ---- templates


def check_template(key, subject, body, allowed=None):
    """Refuse a text (notice template, broadcast, greeting) with a placeholder the notice does not
    provide, or one that is more than a plain ``{name}`` (app.core.placeholders), or too long."""
    allowed = VARIABLES.get(key, ()) if allowed is None else allowed
    names = ", ".join("{%s}" % n for n in allowed)
    for field, text in (("subject", subject), ("body", body)):
        problem = placeholders.first_problem(text, allowed)
        if problem is None:
            continue
        if problem.kind == "unbalanced":
            message = _("Unbalanced braces: write {{ or }} for a literal brace.")
        elif problem.kind == "unknown":
            message = _("Unknown variable {%(name)s}. Available: %(names)s", name=problem.placeholder, names=names)
        elif problem.kind == "length":
            message = _("The text is too long: at most %(count)s characters.", count=placeholders.MAX_TEXT_CHARS)
        else:
            message = _(
                "%(placeholder)s is not allowed: write a variable as a plain {name}, with no format, "
                "conversion, attribute or index. Available: %(names)s",
                placeholder=problem.placeholder,
                names=names,
            )
        raise DomainError(message, field=field)


def render(text, values, allowed=None, report=None):
    """The one renderer of message text (app.core.placeholders): declared ``{name}`` only, nothing else
    expanded, the result capped; a problem of a stored text is logged and added to ``report``."""
    return placeholders.render(text, values, allowed, report)


def render_message(template, values, allowed):
    """(subject, body, problems) of a (subject, body) template; problems as text for an outbox log."""
    report = []
    subject, body = (render(part, values, allowed, report) for part in template)
    return subject, body, "; ".join(map(repr, report))


def text_changed(session, item, attrs):
    """Is ``item`` new, or are any of ``attrs`` changed in this flush?"""
    if item in session.new:
        return True
    state = inspect(item)
    return any(state.attrs[attr].history.has_changes() for attr in attrs)


def _check_templates(session, flush_context, instances):
    """The final guard on every path (page, API, CLI, ORM): a template's text is checked whenever it
    is saved with a changed text (a stored one is never re-judged by other edits)."""
    for item in list(session.new) + list(session.dirty):
        if isinstance(item, MessageTemplate) and text_changed(session, item, ("key", "subject", "body")):
            check_template(item.key, item.subject, item.body)


def register(session_class=Session):
    if not event.contains(session_class, "before_flush", _check_templates):
        event.listen(session_class, "before_flush", _check_templates)


def variables_help():
    """The variables each notice offers, for the template form."""
    return "; ".join(
        f"{TEMPLATE_KEYS.label(key)}: " + " ".join("{%s}" % n for n in names) for key, names in VARIABLES.items()
    )


def load_template(session, key):
    """(subject, body) of the template, or None when an admin switched it off."""
    row = session.execute(select(MessageTemplate).where(MessageTemplate.key == key)).scalar_one_or_none()
    if row is None:
        return DEFAULT_TEMPLATES[key]
    if not row.active:
        return None
    return row.subject, row.body


def ensure_templates(session):
    """Create the built-in templates that are missing (admins' edits are kept)."""
    existing = set(session.execute(select(MessageTemplate.key)).scalars())
    for key in TEMPLATE_KEYS.codes:
        if key not in existing:
            subject, body = DEFAULT_TEMPLATES[key]
            session.add(MessageTemplate(key=key, subject=subject, body=body, active=True))
    session.commit()


def template_problems_log(problems, now):
    """The outbox row's first log line when its text had to be rendered around a problem."""
    return f"{now.isoformat()} template problem (placeholders left as written): {problems}\n" if problems else None


# ---- staff inbox


def notify_staff(session, user_ids, key, values, link, now):
    """Put the notice in each user's inbox (in the caller's transaction)."""
    template = load_template(session, key)
    if template is None:
        return 0
    subject, body, _problems = render_message(template, values, VARIABLES.get(key, ()))
    count = 0
    for user_id in dict.fromkeys(u for u in user_ids if u is not None):
        session.add(Notification(user_id=user_id, title=subject[:200], body=body, link=link, created_at=now))
        count += 1
    return count


def inbox_page(session, user_id, page, page_size, unread_only=False):
    """One page of a user's inbox, newest first: (notifications, whether more follow)."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    rows = session.execute(query.offset((page - 1) * page_size).limit(page_size + 1)).scalars().all()
    return rows[:page_size], len(rows) > page_size


def unread_count(session, user_id):
    from sqlalchemy import func

    return session.execute(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    ).scalar_one()


def mark_read(session, user_id, now, notification_id=None):
    """Mark one (or every) unread notice of this user read; another user's notices are untouched."""
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    changed = session.execute(query.values(read_at=now).execution_options(synchronize_session=False)).rowcount
    session.commit()
    return changed


# ---- customers: the outbox


def channel_order():
    if has_app_context():
        configured = current_app.config.get("CRM_CHANNEL_ORDER")
        if configured:
            return tuple(c.strip() for c in configured.split(",") if c.strip() in NOTIFY_CHANNELS)
    return DEFAULT_CHANNEL_ORDER


def customer_address(customer, channel, responsible_user_id):
    if channel == "wechat":
        return customer.wechat_openid or None
    if channel == "sms":
        return customer.phone or None
    if channel == "email":
        return customer.email or None
    if channel == "inapp":
        return str(responsible_user_id) if responsible_user_id else None
    return None


def customer_channels(customer, order, responsible_user_id):
    """The customer's channels to try, preferred first, only those with an address."""
    chain = [customer.preferred_channel] + [c for c in order if c != customer.preferred_channel]
    if "inapp" not in chain:
        chain.append("inapp")  # never lost: at worst a staff member passes it on
    return [c for c in chain if c in NOTIFY_CHANNELS and customer_address(customer, c, responsible_user_id)]


def customer_message(customer, chain, subject, body, now, responsible_user_id=None, address=None, **fields):
    """An outbox message to a customer, due now, by the first channel of ``chain`` (the others are
    its fallbacks, in order); ``address`` when it is not the customer's own for that channel."""
    return OutboxMessage(
        customer=customer,
        user_id=responsible_user_id,
        channel=chain[0],
        address=address or customer_address(customer, chain[0], responsible_user_id),
        fallback=",".join(chain[1:]),
        subject=subject[:200],
        body=body,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        **fields,
    )


def notify_customer(session, customer, key, values, dedupe_key, now, responsible_user_id=None):
    """Queue a notice to a customer; queuing the same ``dedupe_key`` again does nothing."""
    template = load_template(session, key)
    if template is None or customer is None:
        return None
    exists = session.execute(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)).first()
    if exists is not None:
        return None
    chain = customer_channels(customer, channel_order(), responsible_user_id)
    if not chain:
        return None
    allowed = VARIABLES.get(key, ())
    if "portal_link" in allowed:  # the customer's personal way into the portal, from any message they get
        values = dict(values, portal_link=sign_in_url(customer))
    subject, body, problems = render_message(template, values, allowed)
    message = customer_message(
        customer,
        chain,
        subject,
        body,
        now,
        responsible_user_id,
        dedupe_key=dedupe_key,
        template_key=key,
        log=template_problems_log(problems, now),
    )
    session.add(message)
    return message


# ---- delivery (the job)


def _next_channel(session, message):
    """Move ``message`` to the next fallback channel that has an address; False when none is left."""
    remaining = [c for c in (message.fallback or "").split(",") if c]
    customer = session.get(Customer, message.customer_id) if message.customer_id else None
    while remaining:
        channel = remaining.pop(0)
        if customer is not None:
            address = customer_address(customer, channel, message.user_id)
        else:
            address = str(message.user_id) if channel == "inapp" and message.user_id else None
        if address:
            message.channel, message.address = channel, address
            message.fallback = ",".join(remaining)
            message.attempts = 0
            return True
    message.fallback = ""
    return False


def _send(session, message, senders, now):
    if message.channel == "inapp":
        session.add(
            Notification(
                user_id=int(message.address),
                created_at=now,
                link=None,
                title=str(_("Please pass on to customer: %(subject)s", subject=message.subject))[:200],
                body=_customer_line(session, message) + for_passing_on(message.body),
            )
        )
        return
    sender = senders.get(message.channel)
    if sender is None:
        raise PermanentFailure(f"channel {message.channel} is not configured")
    sender.send(message)


def _customer_line(session, message):
    customer = session.get(Customer, message.customer_id) if message.customer_id else None
    return f"{customer.name} {customer.phone}\n" if customer is not None else ""


def recover_stale(session, now, stale_after=STALE_CLAIM):
    """Rows left 'sending' by a worker that was killed: send them again, so nothing is lost.

    If the kill came after the channel accepted the message, the second attempt carries the same
    Message-ID / gateway reference (``outbox-<id>``), by which the receiving side drops a duplicate.
    """
    stale = (
        session.execute(
            select(OutboxMessage).where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - stale_after)
        )
        .scalars()
        .all()
    )
    for message in stale:
        message.status, message.next_attempt_at = "pending", now
        message.log = (
            message.log or ""
        ) + f"{now.isoformat()} {message.channel}: interrupted while sending; sent again with the same reference\n"
    session.commit()
    return len(stale)


def deliver_outbox(session, senders, now, batch=100, max_attempts=MAX_ATTEMPTS, backoff=BACKOFF):
    """Send due outbox rows once each. Returns {"sent": n, "retry": n, "failed": n}."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    recover_stale(session, now)
    due = (
        session.execute(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(batch)
        )
        .scalars()
        .all()
    )
    for message_id in due:
        claimed = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending")
            .values(status="sending", claimed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()  # the claim is visible to every other worker before anything is sent
        if claimed != 1:
            continue
        message = session.get(OutboxMessage, message_id, populate_existing=True)
        try:
            _send(session, message, senders, now)
        except Exception as error:  # noqa: BLE001 — any failure is recorded, never lost
            message.attempts += 1
            message.log = (message.log or "") + f"{now.isoformat()} {message.channel}: {error}\n"
            temporary = not isinstance(error, PermanentFailure)
            if temporary and message.attempts < max_attempts:
                message.status = "pending"
                message.next_attempt_at = now + backoff * (2 ** (message.attempts - 1))
                counts["retry"] += 1
            elif _next_channel(session, message):
                message.status = "pending"
                message.next_attempt_at = now
                counts["retry"] += 1
            else:
                message.status = "failed"
                counts["failed"] += 1
        else:
            message.attempts += 1
            message.status = "sent"
            message.sent_at = now
            counts["sent"] += 1
        session.commit()
    return counts


def retry_failed(session, message_ids, now):
    """Send failed rows again (an admin's decision after checking); sent rows are never resent."""
    changed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=now, claimed_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return changed


# ---- what tickets send


def _local(value, zone):
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def ticket_values(ticket, zone):
    unit = ticket.unit
    return {
        "ticket_number": ticket.number,
        "title": ticket.title,
        "ticket_type": TICKET_TYPES.label(ticket.type),
        "priority": PRIORITIES.label(ticket.priority),
        "address": str(unit) if unit is not None else "",
        "customer_name": ticket.customer.name if ticket.customer is not None else "",
        "response_due": _local(ticket.response_due, zone),
        "resolution_due": _local(ticket.resolution_due, zone),
        "assignee": person_name(ticket.assignee) if ticket.assignee is not None else "",
        "department": str(ticket.department) if ticket.department is not None else "",
        "resolution": ticket.resolution or "",
    }


def notify_assignment(session, ticket, user_id, now, zone):
    return notify_staff(
        session, [user_id], "assignment_notice", ticket_values(ticket, zone), f"/ticketwork/{ticket.number}", now
    )


def escalation_recipients(session, ticket, level):
    """Level 1: the supervisors of the ticket's department (all supervisors if it has none); level 2: managers."""
    action = ACTION_ESCALATION_LEVEL_1 if level == 1 else ACTION_ESCALATION_LEVEL_2
    users = users_with_permission(session, action, RESOURCE_ESCALATION)
    if level == 1:
        return of_department_first(session, ticket.department_id, users)
    return list(users)


def of_department_first(session, department_id, user_ids):
    """Those of ``user_ids`` who work in the department, or all of them when none does (or the
    record has no department): who hears of a ticket first."""
    if department_id is not None and user_ids:
        in_department = (
            session.execute(
                select(StaffProfile.user_id)
                .where(StaffProfile.department_id == department_id, StaffProfile.user_id.in_(user_ids))
                .order_by(StaffProfile.user_id)
                .execution_options(crm_unscoped=True)
            )
            .scalars()
            .all()
        )
        if in_department:
            return in_department
    return sorted(user_ids)


def notify_escalation(session, ticket, level, now, zone):
    values = dict(ticket_values(ticket, zone), level=level)
    return notify_staff(
        session,
        escalation_recipients(session, ticket, level),
        "escalation_notice",
        values,
        f"/ticketwork/{ticket.number}",
        now,
    )


def notify_completion(session, ticket, rating_link, now, zone):
    """Queue the completion notice with the rating link; once per resolution.

    The link reaches the customer only: when no channel of theirs works, the staff member asked to pass
    it on is the one who logged the request, never the handler being rated (nobody, if that is the same
    person: the desk then takes the rating by phone).
    """
    if ticket.customer is None:
        return None
    values = dict(ticket_values(ticket, zone), rating_link=rating_link)
    key = f"completion_notice:ticket:{ticket.id}:{ticket.resolved_at.isoformat() if ticket.resolved_at else ''}"
    desk = ticket.created_by_id if ticket.created_by_id != ticket.assignee_id else None
    return notify_customer(session, ticket.customer, "completion_notice", values, key, now, responsible_user_id=desk)
