"""Excel import: template, dry run with row errors, all or nothing, re-import updates by natural key."""

import io

import openpyxl
import pytest
import xlsxwriter

from app.extensions import db
from app.models import Customer, Tag, Unit
from tests import factories


def xlsx(rows):
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    sheet = workbook.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    workbook.close()
    return buffer.getvalue()


def upload(client, kind, rows, dry_run):
    """Upload, let the scheduler's worker check (and import) it, and open the page with its report."""
    from app.admin.tasks import run_pending
    from app.core.column_types import utcnow

    data = {"file": (io.BytesIO(xlsx(rows)), "import.xlsx")}
    if dry_run:
        data["dry_run"] = "1"
    response = client.post(f"/import/{kind}/", data=data, content_type="multipart/form-data")
    if response.status_code != 302:
        return response
    run_pending(db.session, utcnow())  # the tests that upload hold an app context (``ctx``)
    return client.get(response.headers["Location"])


CUSTOMER_HEADER = [
    "姓名",
    "电话",
    "性别",
    "出生日期",
    "电子邮件",
    "身份证号",
    "职业",
    "类型",
    "状态",
    "标签",
    "房屋",
    "备注",
]


def test_templates_download_with_headers(admin_client):
    for kind, first in [("customers", "姓名 *"), ("units", "楼栋 *"), ("tags", "名称 *")]:
        response = admin_client.get(f"/import/{kind}/template")
        assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
        sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
        assert sheet.cell(1, 1).value == first


def test_dry_run_reports_every_bad_row_and_changes_nothing(admin_client, ctx):
    factories.tag(name="VIP")
    building = factories.building(name="1号楼")
    factories.unit(building, number="1203")
    factories.customer(phone="13800000001")
    rows = [
        CUSTOMER_HEADER,
        ["王芳", "13812345678", "女", "1965-03-08", None, None, None, "业主", "正常", "VIP", "1号楼-1203", None],
        ["李雷", "12345", None, None, None, None, None, None, None, None, None, None],
        ["韩梅梅", "13812345679", None, None, None, None, None, "租户", None, "不存在的标签", None, None],
        ["张伟", "13812345680", None, None, None, None, None, None, None, None, "9号楼-0101", None],
        ["", "13812345681", None, None, None, None, None, "大客户", None, None, None, None],
        ["王芳二", "138 1234 5678", None, None, None, None, None, None, None, None, None, None],
    ]
    page = upload(admin_client, "customers", rows, dry_run=True).get_data(as_text=True)
    assert "1 行可以导入" in page
    for row, word in [(3, "电话"), (4, "不存在的标签"), (5, "9号楼-0101"), (6, "姓名"), (6, "大客户"), (7, "第 2 行")]:
        assert f"<td>{row}</td>" in page and word in page, (row, word)
    assert db.session.query(Customer).count() == 1


def test_import_is_all_or_nothing(admin_client, ctx):
    rows = [CUSTOMER_HEADER, ["王芳", "13812345678"] + [None] * 10, ["李雷", "bad-phone"] + [None] * 10]
    page = upload(admin_client, "customers", rows, dry_run=False).get_data(as_text=True)
    assert "没有导入任何数据" in page
    assert db.session.query(Customer).count() == 0


def test_reimport_updates_by_natural_key_instead_of_duplicating(admin_client, ctx):
    factories.tag(name="VIP")
    building = factories.building(name="1号楼")
    factories.unit(building, number="1203")
    rows = [
        CUSTOMER_HEADER,
        ["王芳", "13812345678", "女", "1965-03-08", None, None, None, "业主", "正常", "VIP", "1号楼-1203", None],
    ]
    page = upload(admin_client, "customers", rows, dry_run=False).get_data(as_text=True)
    assert "新增 1 条" in page
    rows[1][0] = "王芳芳"
    page = upload(admin_client, "customers", rows, dry_run=False).get_data(as_text=True)
    assert "更新 1 条" in page
    customer = db.session.query(Customer).one()
    assert (customer.name, customer.gender, [t.name for t in customer.tags]) == ("王芳芳", "female", ["VIP"])
    assert [str(link.unit.number) for link in customer.units] == ["1203"]


def test_units_and_tags_import(admin_client, ctx):
    factories.building(name="2号楼", code="B02")
    upload(admin_client, "tags", [["名称", "颜色"], ["独居老人", "#aa0000"], ["有宠物", None]], dry_run=False)
    assert {t.name for t in db.session.query(Tag)} == {"独居老人", "有宠物"}
    unit_rows = [
        ["楼栋", "房号", "楼层", "面积", "户型", "用途", "状态"],
        ["2号楼", "0501", 5, 88.5, "两室一厅", "住宅", "已入住"],
        ["B02", "0502", 5, "-3", None, None, None],
    ]
    page = upload(admin_client, "units", unit_rows, dry_run=True).get_data(as_text=True)
    assert "<td>3</td>" in page and "面积" in page
    unit_rows[2][3] = "90"
    upload(admin_client, "units", unit_rows, dry_run=False)
    units = {u.number: u for u in db.session.query(Unit)}
    assert units["0501"].area == 88.5 and units["0501"].status == "occupied" and units["0502"].area == 90


def test_not_an_excel_file_gets_a_clear_message(admin_client, ctx):
    response = admin_client.post(
        "/import/customers/", data={"file": (io.BytesIO(b"name,phone\n"), "x.csv")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    assert "不是 Excel" in response.get_data(as_text=True)


def test_import_needs_create_and_edit_rights_on_the_model(login):
    assert login("Service").get("/import/customers/").status_code == 200
    assert login("Service").get("/import/tags/").status_code == 403
    assert login("Manager").get("/import/customers/").status_code == 403
    assert login("Technician").get("/import/units/").status_code == 403


def test_unknown_or_missing_columns_are_reported(admin_client, ctx):
    page = upload(admin_client, "tags", [["名字", "颜色"], ["VIP", None]], dry_run=True).get_data(as_text=True)
    assert "缺少列：名称" in page and "未知列：名字" in page


def test_meter_readings_import_takes_the_previous_reading_and_refuses_a_meter_running_back(login, ctx):
    from decimal import Decimal

    from app.models import MeterReading

    building = factories.building(name="5号楼")
    unit = factories.unit(building_obj=building, number="0801")
    db.session.add(
        MeterReading(
            unit=unit, fee_type="water", period="2026-10", previous_reading=Decimal("90"), reading=Decimal("100")
        )
    )
    db.session.commit()
    header = ["房屋", "费用类型", "账期", "上期读数", "本期读数"]
    client = login("Service")
    bad = upload(client, "meter_readings", [header, ["5号楼-0801", "水费", "2026-11", None, "95"]], dry_run=False)
    assert "低于" in bad.get_data(as_text=True) and db.session.query(MeterReading).count() == 1
    upload(client, "meter_readings", [header, ["5号楼-0801", "水费", "2026-11", None, "112.5"]], dry_run=False)
    reading = db.session.query(MeterReading).filter_by(period="2026-11").one()
    assert (reading.previous_reading, reading.reading, reading.usage) == (
        Decimal("100"),
        Decimal("112.5"),
        Decimal("12.5"),
    )
    upload(client, "meter_readings", [header, ["5号楼-0801", "水费", "2026-11", None, "113"]], dry_run=False)
    db.session.expire_all()
    assert db.session.query(MeterReading).filter_by(period="2026-11").one().reading == Decimal("113")  # updated


@pytest.mark.parametrize("level", ["hidden", "masked", "readonly"])
def test_import_refuses_fields_the_importer_may_not_write_and_reveals_nothing(app, login, ctx, level):
    from app.models import FieldPermission

    existing = factories.customer(name="林黛玉", phone="13812341234", id_number="11010519491231002X")
    service = app.appbuilder.sm.find_role("Service")
    db.session.add(FieldPermission(role_id=service.id, resource="Customer", field="id_number", level=level))
    db.session.add(FieldPermission(role_id=service.id, resource="Customer", field="phone", level="hidden"))
    db.session.commit()
    client = login("Service")
    header = list(CUSTOMER_HEADER)
    id_column = header.index("身份证号")
    known, unknown = ["林黛玉", "13812341234"] + [None] * 10, ["无名氏", "13900000000"] + [None] * 10
    known[id_column] = "110101199003070011"
    answers = [
        upload(client, "customers", [header, row], dry_run=True).get_data(as_text=True) for row in (known, unknown)
    ]
    assert "您无权修改此字段" in answers[0]
    # the same answer whether that hidden phone exists or not: no row is looked up
    assert answers[0].count("您无权修改此字段") == 2 and answers[1].count("您无权修改此字段") == 1
    page = upload(client, "customers", [header, known], dry_run=False).get_data(as_text=True)
    assert "没有导入任何数据" in page
    db.session.expire_all()
    assert db.session.get(Customer, existing.id).id_number == "11010519491231002X"
    assert db.session.query(Customer).count() == 1
