"""Realistic Simplified-Chinese demo data: staff, buildings, customers, tickets, bills.

``load_demo_data`` fills an empty database; every generated value depends only on the
seed and ``now`` (one ``random.Random(seed)``, never the global generator), and every date is
relative to ``now``, so the demo reads the same whatever day it is loaded on.

History is written through the app's own rules, at the moments it happened: the loader sets
``session.info["as_of"]`` (app.policy.records.flush_time) before each step, so ticket numbers (by creation
day), the ticket history, response/resolution/close times, staff notices, customers' messages and the
escalation sweep's work carry their own times. The billing runs bill the months as the billing job did.
Old notices are then read and old messages sent, as they would have been.
"""

import datetime
import random
from decimal import Decimal

from flask import current_app
from sqlalchemy import event, select, update
from sqlalchemy.orm import scoped_session

from app.core.clock import local_zone, utcnow

from app.models import (
    Bill,
    Building,
    Communication,
    Customer,
    CustomerUnit,
    Department,
    DispatchRule,
    FeeRule,
    MeterReading,
    Notification,
    OutboxMessage,
    Payment,
    StaffProfile,
    Tag,
    Ticket,
    TicketEvent,
    TicketRating,
    Unit,
)
from app.policy.permissions import ROLE_MANAGER, ROLE_SERVICE, ROLE_SUPERVISOR, ROLE_TECHNICIAN
from app.core.column_types import TICKET_STATUSES, TICKET_TYPES
from app.tickets.ratings import check_rating
from app.tickets.sla import fallback_minutes, level_two_delay, policy_table
from app.tickets.sla import escalate_overdue
from app.billing.bills import generate_bills
from app.admin.numbering import next_number

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
CENT = Decimal("0.01")

DEPARTMENTS = [
    ("客服部", "客户服务中心：报事报修受理、投诉处理、回访"),
    ("工程部", "设施设备维修养护、电梯及供水供电"),
    ("秩序维护部", "门岗值守、巡逻、车辆与消防通道管理"),
    ("保洁绿化部", "公共区域保洁、垃圾清运、绿化养护"),
    ("财务部", "物业费及水电费收缴、票据管理"),
]
# new tickets of a type go to this department (its least-loaded person on duty)
DISPATCH_RULES = [
    ("repair", "工程部"),
    ("maintenance", "工程部"),
    ("complaint", "客服部"),
    ("suggestion", "客服部"),
    ("inquiry", "客服部"),
]
FEE_RULES = [
    dict(name="住宅物业费", fee_type="property", method="per_area", price=Decimal("2.50"), unit_use="residential"),
    dict(name="商铺物业费", fee_type="property", method="per_area", price=Decimal("6.80"), unit_use="commercial"),
    dict(
        name="车位管理费",
        fee_type="parking",
        method="per_unit",
        price=Decimal("150"),
        unit_use="parking",
        bill_to="owner",
    ),
    dict(
        name="阶梯水费",
        fee_type="water",
        method="metered",
        price=Decimal("0"),
        tiers="20:3.50, 40:4.20, :5.00",
        unit_use="residential",
        due_day=20,
    ),
]
DEMO_STAFF = [
    ("manager", ROLE_MANAGER, "建华", "陈", "manager@example.com", "客服部"),
    ("supervisor", ROLE_SUPERVISOR, "志刚", "王", "supervisor@example.com", "工程部"),
    ("service", ROLE_SERVICE, "丽娟", "李", "service@example.com", "客服部"),
    ("service2", ROLE_SERVICE, "晓雯", "张", "service2@example.com", "客服部"),
    ("tech", ROLE_TECHNICIAN, "国强", "刘", "tech@example.com", "工程部"),
    ("tech2", ROLE_TECHNICIAN, "海涛", "赵", "tech2@example.com", "工程部"),
    ("tech3", ROLE_TECHNICIAN, "秀兰", "周", "tech3@example.com", "保洁绿化部"),
    ("guard", ROLE_TECHNICIAN, "建军", "孙", "guard@example.com", "秩序维护部"),
]
TAGS = [
    ("老年客户", "#8C564B", "年长业主，上门服务优先"),
    ("商业租户", "#1F77B4", "商业街商铺租户"),
    ("VIP", "#D62728", "重点客户"),
    ("独居老人", "#9467BD", "定期关怀回访"),
    ("有宠物", "#2CA02C", "饲养宠物，注意文明养宠提醒"),
    ("欠费提醒", "#FF7F0E", "存在欠费记录"),
    ("新入住", "#17BECF", "近半年内入住"),
    ("投诉敏感", "#E377C2", "沟通需谨慎，优先处理"),
]
DEVELOPER = "上海锦绣置业有限公司"  # owner of the estate's unsold flats, shops and parking spaces
FAMILY_NAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤"
MALE_NAMES = (
    "伟 强 磊 军 勇 杰 涛 明 超 刚 平 辉 鹏 华 飞 鑫 波 斌 宇 浩 凯 健 俊 旭 宁 龙 阳 建国 志强 文博 "
    "子轩 浩然 宇航 俊杰 家豪 明辉 晓东 国平 德明 永康 振华 天佑 一鸣"
).split()
FEMALE_NAMES = (
    "芳 娜 敏 静 丽 艳 娟 霞 婷 雪 慧 琳 颖 倩 洁 秀英 桂英 玉兰 欣怡 雨桐 梓涵 晓燕 丽华 "
    "淑珍 美玲 佳怡 思雨 海燕 红梅 雅琴 静怡 诗涵 素芬 文静"
).split()
MOBILE_PREFIXES = (
    "130 131 132 133 135 136 137 138 139 150 151 152 155 156 157 158 159 "
    "176 177 178 180 181 182 185 186 187 188 189 191 199"
).split()
# Shanghai districts first (residents' ID numbers), then a few other provinces' cities.
REGION_CODES = (
    "310101 310104 310105 310106 310107 310109 310110 310112 310113 310115 320102 330106 340104 420106 510107 370202"
).split()
OCCUPATIONS = "教师 工程师 医生 护士 会计 公务员 销售经理 程序员 个体经营 自由职业 律师 设计师 退休 退休 退休".split()
# (layout, min m², max m²)
LAYOUTS = [
    ("一室一厅", 45, 62),
    ("两室一厅", 65, 92),
    ("两室两厅", 82, 110),
    ("三室两厅", 108, 145),
    ("四室两厅", 140, 180),
]
# "type title description" per line: what residents report, by ticket type.
_TICKET_TEXTS = """
repair 厨房水管漏水 厨房水槽下方水管接口漏水，地面有积水，请尽快安排维修。
repair 卫生间马桶堵塞 卫生间马桶堵塞，自行疏通无效，影响正常使用。
repair 客厅灯具不亮 客厅吊灯突然不亮，更换灯泡后仍无反应，怀疑线路问题。
repair 入户门锁损坏 入户门锁转动困难，钥匙经常卡住，担心安全问题。
repair 阳台窗户关不严 阳台推拉窗关闭不严，下雨时有雨水渗入室内。
repair 墙面渗水发霉 次卧外墙一侧墙面渗水，墙纸发霉起皮。
repair 电梯异响 本楼栋电梯运行时有异响，轿厢晃动明显，住户担心安全。
repair 地下车库照明故障 地下车库B区多盏照明灯不亮，夜间停车视线差。
repair 楼道声控灯失灵 楼道声控灯不亮，老人夜间上下楼不便。
repair 可视对讲门铃无声 单元门可视对讲无法呼叫到户，访客进不来。
maintenance 二次供水水箱清洗 按计划对二次供水水箱清洗消毒，需提前张贴停水通知。
maintenance 消防设施月度巡检 检查消火栓、灭火器及应急照明，记录异常并整改。
maintenance 电梯季度保养 配合维保单位完成电梯季度保养，保养期间暂停使用。
maintenance 雨水管道疏通 雨季前疏通小区雨水管道及窨井，防止积水倒灌。
complaint 楼上装修噪音扰民 楼上装修周末早上八点前即开始施工，电钻噪音严重影响休息。
complaint 垃圾清运不及时 楼下垃圾桶满溢，异味明显，已连续两天未清运。
complaint 车位被外来车辆占用 本人固定车位多次被外来车辆占用，联系不上车主。
complaint 宠物粪便无人清理 小区步道经常有宠物粪便，希望加强文明养宠管理。
complaint 快递堆放堵塞消防通道 快递员将包裹堆放在楼道消防通道，存在安全隐患。
complaint 广场舞音量过大 晚上中心广场广场舞音响音量过大，影响孩子学习。
suggestion 建议增加充电桩 小区新能源车越来越多，建议在地下车库增设充电桩。
suggestion 建议增设儿童游乐设施 小区儿童较多，建议在中心绿地增设儿童游乐设施。
suggestion 建议设置智能快递柜 建议在各楼栋门口设置智能快递柜，方便取件。
suggestion 建议加强垃圾分类指导 建议在投放时段安排志愿者进行垃圾分类指导。
inquiry 咨询物业费缴纳方式 客户询问物业费能否通过微信或支付宝缴纳，是否支持按年缴纳。
inquiry 咨询装修审批流程 客户准备装修，咨询装修申请所需材料及审批时间。
inquiry 咨询停车月卡办理 客户咨询地下车库月卡办理流程及收费标准。
inquiry 咨询门禁卡补办 客户门禁卡遗失，咨询补办所需材料及费用。
inquiry 咨询水费账单明细 客户对本月水费金额有疑问，希望查看用量明细。
"""
TICKET_TYPE_WEIGHTS = {"repair": 40, "complaint": 20, "suggestion": 8, "inquiry": 22, "maintenance": 6}
TICKET_TEXTS = {
    kind: [(title, text) for k, title, text in map(str.split, _TICKET_TEXTS.strip().splitlines()) if k == kind]
    for kind in TICKET_TYPE_WEIGHTS
}
TICKET_DEPARTMENT = {
    "repair": "工程部",
    "maintenance": "工程部",
    "complaint": "客服部",
    "suggestion": "客服部",
    "inquiry": "客服部",
}
# The status changes a ticket goes through to reach each status (each change is logged).
# the handler's result note written when a ticket is resolved
RESULTS = {
    "repair": "已上门维修，功能恢复正常，现场已清理。",
    "maintenance": "已按计划完成维保，设备运行正常。",
    "complaint": "已与相关方沟通处理，客户表示认可。",
    "suggestion": "建议已记录并转相关部门评估，已回复客户。",
    "inquiry": "已电话答复客户咨询的问题。",
}
_PATH = ["new", "assigned", "in_progress", "resolved"]
STATUS_PATHS = {status: _PATH[: _PATH.index(status) + 1] for status in _PATH}
STATUS_PATHS.update(closed=_PATH + ["closed"], reopened=_PATH + ["reopened"], cancelled=_PATH[:2] + ["cancelled"])
# Tickets older than two weeks are mostly closed; recent ones are still being worked on.
OLD_STATUS_WEIGHTS = {
    "closed": 62,
    "resolved": 14,
    "cancelled": 8,
    "reopened": 3,
    "in_progress": 7,
    "assigned": 4,
    "new": 2,
}
RECENT_STATUS_WEIGHTS = {
    "new": 20,
    "assigned": 20,
    "in_progress": 25,
    "resolved": 20,
    "closed": 8,
    "cancelled": 4,
    "reopened": 3,
}
COMMUNICATION_SUMMARIES = """电话回访维修满意度，客户表示满意 提醒客户缴纳本季度物业费，客户表示本周内缴纳
    上门走访了解居住情况，客户反映楼道照明偏暗 通过微信告知小区停水时间安排，客户已知悉 短信通知电梯年检时间
    客户来电咨询装修申请所需材料，已详细说明 邮件发送本月账单明细 节日慰问独居老人，身体状况良好
    与客户沟通车位续租事宜，客户考虑后答复 通知客户领取门禁卡，客户约定周末来取""".split()
TICKET_SUMMARIES = """电话回访维修满意度，客户表示满意 就工单进展与客户沟通，已告知预计上门时间
    回访投诉处理结果，客户对处理进度基本满意 客户来电催促处理进度，已协调工程部加快处理""".split()


def _pick(rng, weights):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _cents(rng, low, high):
    """A Decimal with two places between ``low`` and ``high`` (in units, not cents)."""
    return Decimal(rng.randint(int(low * 100), int(high * 100))).scaleb(-2)


def _between(rng, start, end):
    """A datetime between ``start`` and ``end`` (whole seconds)."""
    return start + datetime.timedelta(seconds=rng.randint(0, max(0, int((end - start).total_seconds()))))


def _mobile(rng, seen):
    """A mobile number not in ``seen`` (and added to it)."""
    while True:
        phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
        if phone not in seen:
            seen.add(phone)
            return phone


def _id_number(rng, birthday, gender):
    """A resident ID number with a valid check digit (odd sequence digit for men)."""
    sequence = f"{rng.randint(0, 99):02d}{rng.choice('13579' if gender == 'male' else '02468')}"
    body = rng.choice(REGION_CODES) + birthday.strftime("%Y%m%d") + sequence
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]


def _month(today, back):
    """(year, month) ``back`` months before ``today``'s month."""
    year, index = divmod(today.year * 12 + today.month - 1 - back, 12)
    return year, index + 1


def _cover(rng, values, codes):
    """Put each code at its own random position, so that every code occurs (needs len(values) >= len(codes))."""
    for index, code in zip(rng.sample(range(len(values)), len(codes)), codes):
        values[index] = code


def _save(session, items):
    """Add a stage's rows and flush them in one go (SQLAlchemy batches the INSERTs)."""
    session.add_all(items)
    session.flush()


def _create_staff(session, rng, departments, password, phones, since):
    sm = current_app.appbuilder.sm
    users = {}
    for username, role_name, first, last, email, department in DEMO_STAFF:
        user = sm.find_user(username=username)
        if user is None:
            role = sm.find_role(role_name)
            if role is None:
                raise RuntimeError(f"Role {role_name} is missing: run `flask crm init` first.")
            user = sm.add_user(username, first, last, email, role, password, commit=False)
            if not user:
                raise RuntimeError(f"Could not create the demo user {username}.")
        users[username] = user
        if session.query(StaffProfile.id).filter_by(user_id=user.id).first() is None:
            session.add(
                StaffProfile(
                    user=user,
                    department=departments[department],
                    phone=_mobile(rng, phones),
                    on_duty=True,
                    max_open_tickets=rng.randint(8, 15),
                    created_at=since,
                    updated_at=since,
                )
            )
    return users


def _create_buildings(rng, since):
    """Residential towers (~360–420 units in all), the 商业街A座 shops and a few parking spaces."""
    buildings, units = [], []
    residential = rng.randint(5, 7)
    per_building = rng.randint(360, 420) // residential
    for index in range(1, residential + 2):
        commercial = index > residential
        per_floor = rng.randint(6, 10) if commercial else rng.randint(2, 4)
        floors = rng.randint(2, 3) if commercial else max(6, min(33, per_building // per_floor + rng.randint(-3, 3)))
        building = Building(
            code=f"B{index:02d}",
            name="商业街A座" if commercial else f"{index}号楼",
            address=f"上海市浦东新区锦绣路1288弄{index}号",
            floors=floors,
            created_at=since,
            updated_at=since,
        )
        buildings.append(building)
        stacks = [rng.choice(LAYOUTS) for _ in range(per_floor)]
        stack_areas = [_cents(rng, low, high) for _, low, high in stacks]
        for floor in range(1, floors + 1):
            for n in range(1, per_floor + 1):
                status = _pick(rng, {"occupied": 80, "renovating": 7, "vacant": 13})
                units.append(
                    Unit(
                        building=building,
                        floor=floor,
                        status=status,
                        created_at=since,
                        updated_at=since,
                        number=f"S{floor}{n:02d}" if commercial else str(floor * 100 + n),
                        use="commercial" if commercial else "residential",
                        layout=None if commercial else stacks[n - 1][0],
                        area=_cents(rng, 45, 180) if commercial else stack_areas[n - 1],
                    )
                )
    garage = buildings[rng.randrange(residential)]
    for n in range(1, rng.randint(30, 45)):
        units.append(
            Unit(
                building=garage,
                number=f"P-{n:03d}",
                floor=-1,
                use="parking",
                area=_cents(rng, 12, 15),
                status="occupied" if rng.random() < 0.6 else "vacant",
                created_at=since,
                updated_at=since,
            )
        )
    return buildings, units


def _new_customer(rng, phones, emails, tags, kind, since):
    gender = rng.choice(["male", "female"])
    given = rng.choice(MALE_NAMES if gender == "male" else FEMALE_NAMES)
    family = rng.choices(FAMILY_NAMES, weights=[1 / (i + 4) for i in range(len(FAMILY_NAMES))])[0]
    birthday = datetime.date(rng.randint(1940, 2003), rng.randint(1, 12), rng.randint(1, 28))
    birthday = None if rng.random() < 0.04 else birthday
    email = None
    if rng.random() < 0.4:
        email = f"user{rng.randint(1000, 99999)}@example.com"
        while email in emails:
            email = f"user{rng.randint(1000, 99999)}@example.com"
        emails.add(email)
    customer = Customer(
        name=family + given,
        gender=gender,
        birthday=birthday,
        phone=_mobile(rng, phones),
        email=email,
        id_number=_id_number(rng, birthday, gender) if birthday and rng.random() < 0.3 else None,
        occupation=rng.choice(OCCUPATIONS) if rng.random() < 0.6 else None,
        type=kind,
        status=_pick(rng, {"active": 92, "moved_out": 4, "inactive": 4}),
        created_at=_between(rng, since, since + 200 * DAY),
    )
    customer.updated_at = customer.created_at
    wanted = [
        name
        for name, chance in (
            ("商业租户", kind == "commercial"),
            ("老年客户", bool(birthday and birthday.year <= 1958)),
            ("VIP", rng.random() < 0.06),
            ("有宠物", rng.random() < 0.15),
            ("独居老人", rng.random() < 0.05),
            ("投诉敏感", rng.random() < 0.05),
            ("欠费提醒", rng.random() < 0.05),
        )
        if chance
    ]
    customer.tags = [tags[name] for name in wanted[: rng.randint(0, 3)]]
    return customer


def _create_customers(rng, count, units, tags, phones, today, since):
    """Customers and their residences; returns (customers, links, primary unit per customer)."""
    occupied = [u for u in units if u.status == "occupied"]
    residential = [u for u in occupied if u.use == "residential"]
    rng.shuffle(residential)
    shops = [u for u in occupied if u.use == "commercial"]
    parking = [u for u in occupied if u.use == "parking"]
    n_commercial = min(len(shops), (count + 15) // 30)
    kinds = ["commercial"] * n_commercial
    kinds += ["tenant" if rng.random() < 0.15 else "owner" for _ in range(count - n_commercial)]
    rng.shuffle(kinds)
    customers, links, primary, households, emails = [], [], {}, [], set()

    def link(customer, unit, relation):
        move_in = today - rng.randint(20, 12 * 365) * DAY
        move_out = today - rng.randint(0, 19) * DAY if customer.status == "moved_out" else None
        links.append(CustomerUnit(customer=customer, unit=unit, relation=relation, move_in=move_in, move_out=move_out))
        primary.setdefault(id(customer), unit)
        if move_in > today - 180 * DAY and len(customer.tags) < 3 and tags["新入住"] not in customer.tags:
            customer.tags.append(tags["新入住"])

    for kind in kinds:
        family = kind != "commercial" and households and (not residential or rng.random() < 0.08)
        host = rng.choice(households) if family else None
        customer = _new_customer(rng, phones, emails, tags, host.type if host else kind, since)
        customers.append(customer)
        if kind == "commercial":
            link(customer, shops.pop(rng.randrange(len(shops))), "tenant")
        elif host:
            link(customer, primary[id(host)], "family")
        else:
            link(customer, residential.pop(), kind)
            households.append(customer)
            if parking and rng.random() < 0.1:
                link(customer, parking.pop(), "owner")
    # Every unit has an owner, who pays its fees while nobody lives there (空置房): a flat bought and not
    # (yet) moved into belongs to an owner living elsewhere in the estate; unsold flats, shops and parking
    # spaces belong to the developer. A flat its residents moved out of was sold on.
    developer = Customer(
        name=DEVELOPER, type="other", status="active", phone=_mobile(rng, phones), created_at=since, updated_at=since
    )
    owners = [c for c in customers if c.type == "owner" and c.status == "active"]
    lived_in = {id(link_.unit) for link_ in links if link_.relation != "family" and link_.move_out is None}
    owned = {id(link_.unit) for link_ in links if link_.relation != "family"}
    for link_ in list(links):
        unit = link_.unit
        if link_.move_out is not None and link_.relation != "family" and id(unit) not in lived_in and owners:
            buyer = rng.choice(owners)
            links.append(
                CustomerUnit(
                    customer=buyer,
                    unit=unit,
                    relation="owner",
                    move_in=min(today, link_.move_out + rng.randint(3, 30) * DAY),
                )
            )
            lived_in.add(id(unit))
            unit.status = "vacant" if unit.use == "residential" else unit.status
    for unit in units:
        if id(unit) in owned:
            continue
        if unit.status == "occupied":  # nobody lives there
            unit.status = "vacant"
        owner = rng.choice(owners) if unit.use == "residential" and owners and rng.random() < 0.7 else developer
        links.append(
            CustomerUnit(customer=owner, unit=unit, relation="owner", move_in=today - rng.randint(200, 6 * 365) * DAY)
        )
    return customers, links, primary, developer


# Every demo ticket lives through its history at the moments it happened: created by the service desk,
# assigned, started within its response time (mostly), resolved within its resolution time (mostly),
# rated by most customers, closed by the auto-close rule a week after resolution. Steps still in the
# future at load time have not happened yet, so recent tickets are open and old ones are finished.
HISTORY_DAYS = 150
TICKETS_PER_CUSTOMER = 2.0  # over HISTORY_DAYS: ~4 requests a day for 300 customers
AUTO_CLOSE = 7 * DAY  # the auto-close rule (CRM_AUTO_CLOSE_DAYS)
RATED_SHARE = 0.82
STARS_ON_TIME = {5: 62, 4: 27, 3: 8, 2: 2, 1: 1}
STARS_LATE = {5: 18, 4: 32, 3: 30, 2: 12, 1: 8}
RATING_COMMENTS = {
    5: ["师傅很专业，处理及时，非常满意！", "响应很快，服务态度好。", "问题解决得很彻底，点赞。", None, None],
    4: ["处理得不错，就是上门时间稍晚。", "整体满意。", None, None],
    3: ["问题解决了，但等待时间有点长。", "一般，希望沟通再主动一些。", None],
    2: ["拖了好几天才处理，不太满意。", "处理结果一般，问题还会复发。"],
    1: ["反映多次才来处理，非常不满意。", "态度差，问题没有真正解决。"],
}
# local hours a request comes in (residents call from morning to evening)
CREATED_HOURS = {
    7: 3,
    8: 8,
    9: 12,
    10: 12,
    11: 10,
    12: 6,
    13: 7,
    14: 9,
    15: 9,
    16: 8,
    17: 7,
    18: 6,
    19: 6,
    20: 5,
    21: 3,
    22: 1,
}


def _created_times(rng, count, now, zone):
    """About ``count`` creation moments over the last HISTORY_DAYS, day by day (a little busier on weekends
    and in recent months, as the estate fills up), at the hours residents call."""
    local_today = now.astimezone(zone).date()
    days = [local_today - datetime.timedelta(days=back) for back in range(HISTORY_DAYS)]
    weights = [(1.25 if d.weekday() >= 5 else 1.0) * (1.3 - 0.3 * back / HISTORY_DAYS) for back, d in enumerate(days)]
    scale = count / sum(weights)
    hours, hour_weights = list(CREATED_HOURS), list(CREATED_HOURS.values())
    times = []
    for day, weight in zip(days, weights):
        for _ in range(int(weight * scale + rng.random())):
            hour = rng.choices(hours, weights=hour_weights)[0]
            at = datetime.datetime.combine(day, datetime.time(hour, rng.randrange(60), rng.randrange(60)), zone)
            at = at.astimezone(UTC)
            if at < now - 10 * 60 * datetime.timedelta(seconds=1):
                times.append(at)
    return sorted(times)


def _minutes(value):
    return datetime.timedelta(minutes=value)


def _ticket_plan(rng, ticket, respond, resolve, late_share, handler, desk):
    """The ticket's steps after creation: [(moment, what, details)], in order, whether or not they happen
    before the demo's now."""
    at = ticket.created_at
    steps = []
    assigned = at + _minutes(rng.randint(3, min(45, max(4, respond // 2))))
    steps.append((assigned, "status", {"status": "assigned", "assignee": handler, "actor": desk}))
    if rng.random() < 0.04:  # withdrawn by the customer, or a duplicate
        steps.append((assigned + _minutes(rng.randint(30, 24 * 60)), "status", {"status": "cancelled", "actor": desk}))
        return steps, False
    late = rng.random() < late_share
    if rng.random() < (0.9 if not late else 0.6):
        started = at + _minutes(max(5, int(respond * rng.uniform(0.15, 0.95))))
    else:
        started = at + _minutes(int(respond * rng.uniform(1.05, 2.5)))
    started = max(started, assigned + _minutes(2))
    steps.append((started, "status", {"status": "in_progress", "actor": handler}))
    if late:
        resolved = at + _minutes(int(resolve * rng.uniform(1.03, 1.6)))
    else:
        resolved = at + _minutes(int(resolve * rng.uniform(0.08, 0.9) ** 1.4))
    resolved = max(resolved, started + _minutes(rng.randint(15, 90)))
    steps.append((resolved, "status", {"status": "resolved", "actor": handler}))
    if rng.random() < 0.04:  # the customer was not satisfied: reopened and done again
        reopened = resolved + _minutes(rng.randint(60, 48 * 60))
        steps.append((reopened, "status", {"status": "reopened", "actor": desk}))
        again = reopened + _minutes(rng.randint(30, 240))
        steps.append((again, "status", {"status": "in_progress", "actor": handler}))
        resolved = again + _minutes(rng.randint(60, 24 * 60))
        steps.append((resolved, "status", {"status": "resolved", "actor": handler}))
        late = True
    closed = resolved + AUTO_CLOSE + _minutes(rng.randint(1, 60))
    if rng.random() < RATED_SHARE:
        stars = int(_pick(rng, STARS_LATE if late else STARS_ON_TIME))
        source = _pick(rng, {"link": 70, "phone": 25, "visit": 5})
        rated = resolved + _minutes(rng.randint(20, 3 * 24 * 60))
        steps.append(
            (
                rated,
                "rating",
                {
                    "stars": stars,
                    "source": source,
                    "comment": rng.choice(RATING_COMMENTS[stars]),
                    "recorded_by": None if source == "link" else desk,
                },
            )
        )
    steps.append((closed, "status", {"status": "closed", "actor": None}))
    return steps, late


def _escalation_moments(ticket, steps, level_two_after):
    """When the escalation sweep (run every minute) finds this ticket overdue: its due times passed
    with the step still to do, and level 2 that long after level 1."""
    done = {}
    for when, what, details in steps:
        if what == "status":
            done.setdefault(details["status"], when)
    moments = []
    for due, step in ((ticket.response_due, "in_progress"), (ticket.resolution_due, "resolved")):
        finished = done.get(step) or done.get("cancelled")
        if finished is None or finished > due:
            first = due + datetime.timedelta(minutes=1)
            moments += [first, first + level_two_after + datetime.timedelta(minutes=1)]
    return moments


def _apply_step(session, ticket, what, details, when):
    if what == "rating":
        recorded_by = details["recorded_by"]
        check_rating(session, ticket, details["stars"], details["source"], getattr(recorded_by, "id", None))
        session.add(
            TicketRating(
                ticket=ticket,
                stars=details["stars"],
                comment=details["comment"],
                source=details["source"],
                rated_at=when,
                recorded_by=recorded_by,
            )
        )
        return
    status = details["status"]
    if "assignee" in details:
        ticket.assignee = details["assignee"]
    if status == "resolved":
        ticket.resolution = RESULTS[ticket.type]
    if ticket.status != status:
        ticket.status = status
    ticket.updated_at = when


def _create_tickets(session, plain, rng, customers, primary, departments, users, now):
    """The tickets of the last HISTORY_DAYS, each taken through its history at the moments it happened
    (numbers by creation day, response, resolution, ratings, closing, the escalation sweep's work)."""

    zone = local_zone()
    level_two_after = level_two_delay(session)
    policies, fallback = policy_table(session.connection()), fallback_minutes(session)
    count = max(len(TICKET_STATUSES.codes), int(len(customers) * TICKETS_PER_CUSTOMER))
    service = [users["service"], users["service2"]]
    assignees = {
        "工程部": [users["tech"], users["tech2"], users["tech"], users["tech2"], users["supervisor"]],
        "客服部": service,
    }
    created = _created_times(rng, count, now, zone)
    types = [_pick(rng, TICKET_TYPE_WEIGHTS) for _ in created]
    if len(types) >= len(TICKET_TYPES.codes):
        _cover(rng, types, TICKET_TYPES.codes)
    # each month has its own share of late work (busy seasons, staff changes): the trend moves
    month_late = {}
    tickets, timeline = [], []
    for index, (at, kind) in enumerate(zip(created, types)):
        customer = rng.choice(customers)
        title, description = rng.choice(TICKET_TEXTS[kind])
        department = TICKET_DEPARTMENT[kind]
        desk = rng.choice(service)
        # by ids: the ticket joins its customer's, unit's and department's lists when it is created
        ticket = Ticket(
            title=title,
            description=description,
            type=kind,
            status="new",
            customer_id=customer.id,
            unit_id=primary[id(customer)].id,
            department_id=departments[department].id,
            priority=_pick(rng, {"high": 35 if kind == "complaint" else 15, "medium": 55, "low": 25}),
            channel=_pick(rng, {"phone": 40, "wechat": 30, "walk_in": 15, "web": 10, "email": 5}),
            created_by_id=desk.id,
            created_at=at,
            updated_at=at,
        )
        respond, resolve = policies.get((kind, ticket.priority), fallback)
        ticket.response_due, ticket.resolution_due = at + _minutes(respond), at + _minutes(resolve)
        ticket.deadline = ticket.resolution_due
        month = at.astimezone(zone).strftime("%Y-%m")
        late_share = month_late.setdefault(month, rng.uniform(0.07, 0.16)) * (1.4 if kind == "complaint" else 1)
        steps, _late = _ticket_plan(rng, ticket, respond, resolve, late_share, rng.choice(assignees[department]), desk)
        tickets.append(ticket)
        timeline.append((at, index, "create", ticket, {"actor": desk}))
        timeline += [(when, index, what, ticket, details) for when, what, details in steps]
        timeline += [(when, index, "sweep", None, {}) for when in _escalation_moments(ticket, steps, level_two_after)]
    timeline.sort(key=lambda event: (event[0], event[1]))
    # what the history writes beside the tickets (events, notices, ratings) is not needed again: letting go
    # of it after each flush keeps the session small, and every later flush fast
    written = []

    def collect(flushed, _context):
        written.extend(
            o for o in flushed.new if isinstance(o, (TicketEvent, TicketRating, Notification, OutboxMessage))
        )

    event.listen(plain, "after_flush", collect)
    try:
        _replay(session, timeline, written, now, level_two_after, zone)
    finally:
        event.remove(plain, "after_flush", collect)
    return tickets


def _replay(session, timeline, written, now, level_two_after, zone):

    for when, _index, what, ticket, details in timeline:
        if when > now:
            continue
        session.info["as_of"] = when
        if what == "sweep":
            escalate_overdue(session, when, level_two_after=level_two_after, zone=zone)
            continue
        if what == "create":
            session.add(ticket)
        else:
            _apply_step(session, ticket, what, details, when)
        session.flush()
        for item in written:
            if item in session:
                session.expunge(item)
        written.clear()
    session.info["as_of"] = now
    escalate_overdue(session, now, level_two_after=level_two_after, zone=zone)
    session.info.pop("as_of", None)


def _settle_notices(session, rng, now):
    """The history's notices as they stand today: staff read theirs within hours (those of the last few
    hours may still be unread), and the customers' messages went out long ago: nothing old is left for
    the delivery job to send when the app starts."""
    rows = []
    for notice_id, created in session.execute(
        select(Notification.id, Notification.created_at).where(Notification.read_at.is_(None))
    ):
        read = created + datetime.timedelta(minutes=rng.randint(2, 240))
        if read < now:
            rows.append({"id": notice_id, "read_at": read})
    if rows:
        session.execute(update(Notification), rows)
    rows = []
    for message_id, created in session.execute(
        select(OutboxMessage.id, OutboxMessage.created_at).where(OutboxMessage.status == "pending")
    ):
        sent = min(now, created + datetime.timedelta(seconds=rng.randint(5, 120)))
        rows.append({"id": message_id, "status": "sent", "attempts": 1, "sent_at": sent, "next_attempt_at": sent})
    if rows:
        session.execute(update(OutboxMessage), rows)


def _create_communications(session, rng, customers, tickets, users, now):
    by_customer = {}
    for ticket in tickets:
        by_customer.setdefault(id(ticket.customer), []).append(ticket)
    staff = [users["service"], users["service2"], users["manager"]]
    records = []
    for _ in customers:
        customer = rng.choice(customers)
        own = by_customer.get(id(customer))
        record = Communication(
            customer=customer,
            staff=rng.choices(staff, weights=[45, 45, 10])[0],
            channel=_pick(rng, {"phone": 45, "wechat": 25, "visit": 15, "sms": 10, "email": 5}),
        )
        if own and rng.random() < 0.5:
            ticket = rng.choice(own)
            record.tickets = [ticket]
            record.at = _between(rng, ticket.created_at, now)
            record.summary = rng.choice(TICKET_SUMMARIES)
        else:
            record.at = now - datetime.timedelta(seconds=rng.randint(600, 120 * 86400))
            record.summary = rng.choice(COMMUNICATION_SUMMARIES)
        record.created_at = record.updated_at = record.at
        records.append(record)
    _save(session, records)
    return records


BILLED_MONTHS = 3  # this month and the two before


def _billing_moment(year, month, now, zone):
    """When the billing job ran for a month (02:00 on its 1st, local time), but not after ``now``."""
    return min(now, datetime.datetime(year, month, 1, 2, tzinfo=zone).astimezone(UTC))


def _create_meter_readings(rng, units, now, zone):
    """Monthly water readings of every flat for the billed months (an empty flat uses next to nothing)."""
    readings = []
    today = now.astimezone(zone).date()
    for unit in units:
        if unit.use != "residential":
            continue
        reading = _cents(rng, 50, 2000).quantize(Decimal("1"))
        for back in range(BILLED_MONTHS - 1, -1, -1):
            year, month = _month(today, back)
            used = Decimal(rng.randint(0, 1) if unit.status == "vacant" else rng.randint(5, 28))
            taken = _billing_moment(year, month, now, zone) - datetime.timedelta(hours=rng.randint(12, 60))
            readings.append(
                MeterReading(
                    unit=unit,
                    fee_type="water",
                    period=f"{year}-{month:02d}",
                    previous_reading=reading,
                    reading=reading + used,
                    created_at=taken,
                    updated_at=taken,
                )
            )
            reading += used
    return readings


def _create_bills(session, now, zone):
    """The billed months' bills, made by the billing run itself at the moment the job ran each month."""

    runs = []
    today = now.astimezone(zone).date()
    for back in range(BILLED_MONTHS - 1, -1, -1):
        year, month = _month(today, back)
        moment = _billing_moment(year, month, now, zone)
        session.info["as_of"] = moment
        runs.append(generate_bills(session, f"{year}-{month:02d}", moment))
    session.info.pop("as_of", None)
    return runs


def _create_payments(session, rng, bills, users, now, zone):
    """Most bills paid around their due date (a few in part, some not yet); receipts numbered by the day
    they were paid."""

    payments = []
    for bill in bills:
        if bill.amount <= 0:
            continue
        overdue = bill.due_date < now.astimezone(zone).date()
        roll = rng.random()
        if overdue and roll < 0.82 or not overdue and roll < 0.45:
            amount = bill.amount
        elif overdue and roll < 0.88:
            amount = (bill.amount / 2).quantize(CENT)
        else:
            continue
        due = datetime.datetime.combine(bill.due_date, datetime.time(20), tzinfo=zone).astimezone(UTC)
        end = min(now, due + (10 * DAY if rng.random() < 0.15 else datetime.timedelta(0)))
        paid_at = _between(rng, bill.created_at, end) if end > bill.created_at else bill.created_at
        method = _pick(rng, {"wechat": 45, "alipay": 30, "bank": 15, "cash": 10})
        payments.append(
            Payment(
                bill=bill,
                amount=amount,
                method=method,
                paid_at=paid_at,
                created_at=paid_at,
                created_by=users["service"] if method == "cash" else None,
            )
        )
    payments.sort(key=lambda p: p.paid_at)
    connection = session.connection()
    for payment in payments:
        payment.receipt_number = next_number(connection, "RC", payment.paid_at, zone)
    return payments


def load_demo_data(session, seed=2026, customers=300, staff_password="demo-pass-2026", now=None):
    """Fill an empty database with demo data deterministic for ``seed`` and ``now`` (the escalation sweeps
    and billing runs of the history commit as they go).

    Returns a summary of what was created, e.g. ``{"buildings": 7, "units": 512, ...}``.
    """
    # the demo writes tickets with their whole history; live routing would reassign them
    session.info["dispatch"] = False
    session.info["audit"] = False  # demo history is made up; the change history starts with real edits
    rng = random.Random(seed)
    now = (now or utcnow()).astimezone(UTC).replace(microsecond=0)
    today, since = now.date(), now - 400 * DAY
    phones = set()
    departments = {
        name: Department(
            name=name,
            phone=f"021-5888{rng.randint(0, 9999):04d}",
            description=description,
            created_at=since,
            updated_at=since,
        )
        for name, description in DEPARTMENTS
    }
    session.add_all(departments.values())
    users = _create_staff(session, rng, departments, staff_password, phones, since)
    session.add_all(
        DispatchRule(ticket_type=ticket_type, department=departments[name], created_at=since, updated_at=since)
        for ticket_type, name in DISPATCH_RULES
    )
    session.add_all(
        FeeRule(**rule, effective_from=since.date().replace(month=1, day=1), created_at=since, updated_at=since)
        for rule in FEE_RULES
    )
    tags = {
        name: Tag(name=name, color=color, description=description, created_at=since, updated_at=since)
        for name, color, description in TAGS
    }
    buildings, units = _create_buildings(rng, since)
    session.add_all(list(tags.values()) + buildings)
    people, links, primary, developer = _create_customers(rng, customers, units, tags, phones, today, since)
    zone = local_zone()
    _save(session, units + people + [developer] + links)
    for link_ in links:  # not needed again: a smaller session flushes faster
        session.expunge(link_)
    # the escalation sweeps and billing runs of the history commit as they go; what the loader holds
    # stays loaded
    plain = session() if isinstance(session, scoped_session) else session
    expire, plain.expire_on_commit = plain.expire_on_commit, False
    try:
        tickets = _create_tickets(session, plain, rng, people, primary, departments, users, now) if people else []
        _settle_notices(session, rng, now)
        communications = _create_communications(session, rng, people, tickets, users, now) if people else []
        _save(session, _create_meter_readings(rng, units, now, zone))
        session.commit()
        runs = _create_bills(session, now, zone)
    finally:
        plain.expire_on_commit = expire
    bills = session.execute(select(Bill).order_by(Bill.id)).scalars().all()
    payments = _create_payments(session, rng, bills, users, now, zone)
    _save(session, payments)
    session.commit()
    return {
        "buildings": len(buildings),
        "units": len(units),
        "customers": len(people),
        "tickets": len(tickets),
        "communications": len(communications),
        "bills": len(bills),
        "payments": len(payments),
        "billing problems": sum(run.problem_count or 0 for run in runs),
    }
