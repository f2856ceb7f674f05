"""Every customer-care page opens from the menu, in Chinese, for the roles that may use it."""

import pytest

LISTS = [
    "contractview",
    "supplierview",
    "returnvisitview",
    "returnvisitruleview",
    "surveyview",
    "holidayview",
    "equipmentview",
    "maintenanceplanview",
    "maintenanceoccurrenceview",
    "renovationview",
]
ADDS = [
    "contractview",
    "supplierview",
    "returnvisitruleview",
    "surveyview",
    "holidayview",
    "equipmentview",
    "maintenanceplanview",
    "renovationview",
    "surveyquestionview",
]


def test_menu_has_the_customer_care_entries(admin_client):
    page = admin_client.get("/contractview/list/").get_data(as_text=True)
    for word in [
        "客户关怀",
        "合同管理",
        "回访任务",
        "回访规则",
        "满意度调查",
        "关怀提醒",
        "节日",
        "设备台账",
        "保养计划",
        "保养记录",
        "装修管理",
        "供应商",
    ]:
        assert word in page, word


@pytest.mark.parametrize("view", LISTS)
def test_list_pages_open(admin_client, view):
    response = admin_client.get(f"/{view}/list/")
    assert response.status_code == 200
    assert "List" not in response.get_data(as_text=True).split("<title>")[0]


@pytest.mark.parametrize("view", ADDS)
def test_add_forms_open(admin_client, view):
    assert admin_client.get(f"/{view}/add").status_code == 200


@pytest.mark.parametrize(
    "role, allowed", [("Manager", True), ("Supervisor", True), ("Service", True), ("Technician", False)]
)
def test_contracts_and_surveys_by_role(login, role, allowed):
    client = login(role)
    for url in ("/contractview/list/", "/surveyview/list/", "/care/"):
        assert (client.get(url).status_code == 200) == allowed, (role, url)


def test_the_technician_reaches_maintenance_records_but_not_plans_edit(login):
    client = login("Technician")
    assert client.get("/maintenanceoccurrenceview/list/").status_code == 200
    assert client.get("/maintenanceplanview/add").status_code != 200
