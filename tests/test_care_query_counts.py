"""The customer-care list pages cost the same number of SQL statements at any page size."""

import datetime
from decimal import Decimal

import pytest

from app.extensions import db
from app.models import (
    Building,
    Contract,
    Customer,
    Equipment,
    MaintenanceOccurrence,
    MaintenancePlan,
    Renovation,
    ReturnVisit,
    Supplier,
    Ticket,
    Unit,
)

TODAY = datetime.date(2026, 11, 23)


@pytest.fixture
def care_rows(ctx, user_id):
    building = Building(code="C1", name="关怀楼")
    supplier = Supplier(name="迅达电梯")
    db.session.add_all([building, supplier])
    now = datetime.datetime(2026, 11, 23, tzinfo=datetime.timezone.utc)
    for i in range(110):
        unit = Unit(building=building, number=f"{i:04d}", area=80)
        customer = Customer(name=f"客户{i}", phone=f"1370000{i:04d}")
        ticket = Ticket(title=f"投诉{i}", type="complaint", customer=customer, unit=unit)
        equipment = Equipment(code=f"E{i}", name=f"水泵{i}", kind="water_pump", building=building, supplier=supplier)
        plan = MaintenancePlan(title=f"保养{i}", equipment=equipment, every=1, unit="months", start_date=TODAY)
        db.session.add_all(
            [
                unit,
                customer,
                ticket,
                equipment,
                plan,
                Contract(
                    number=f"HT{i}",
                    title=f"合同{i}",
                    kind="lease",
                    customer=customer,
                    start_date=TODAY,
                    end_date=TODAY + datetime.timedelta(days=365),
                    amount=Decimal("100"),
                    responsible_id=user_id("Service"),
                ),
                ReturnVisit(ticket=ticket, customer=customer, due_at=now, status="pending"),
                MaintenanceOccurrence(plan=plan, due_date=TODAY),
                Renovation(
                    unit=unit,
                    customer=customer,
                    works_start=TODAY,
                    works_end=TODAY,
                    deposit=Decimal("1000"),
                    responsible_id=user_id("Service"),
                ),
            ]
        )
    db.session.commit()


VIEWS = [
    "ContractView",
    "ReturnVisitView",
    "EquipmentView",
    "MaintenancePlanView",
    "MaintenanceOccurrenceView",
    "RenovationView",
    "SupplierView",
]


@pytest.mark.parametrize("name", VIEWS)
def test_care_list_statements_do_not_grow_with_page_size(admin_client, count_queries, care_rows, name):
    counts = []
    for size in (20, 100):
        admin_client.get(f"/{name.lower()}/list/?psize_{name}={size}")  # warm caches
        # a server starts each request with an empty session; this test holds one app context, whose
        # session would otherwise carry rows from the last request and make the count depend on the order
        db.session.expunge_all()
        with count_queries() as counter:
            assert admin_client.get(f"/{name.lower()}/list/?psize_{name}={size}").status_code == 200
        counts.append(counter.count)
    # five times the rows, not one statement more (on PostgreSQL the first of these requests has been
    # seen to reload the signed-in user once more, whatever the page size)
    assert counts[1] <= counts[0], counts
    assert counts[0] <= 15, counts
