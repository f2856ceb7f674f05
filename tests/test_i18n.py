"""The UI speaks Simplified Chinese by default and English on request."""

from babel.messages.pofile import read_po


def test_default_language_is_simplified_chinese(admin_client):
    page = admin_client.get("/customerview/list/").get_data(as_text=True)
    assert "客户列表" in page and "客户管理" in page
    assert "List Customer" not in page


def test_english_is_switchable(admin_client):
    admin_client.get("/lang/en")
    page = admin_client.get("/customerview/list/").get_data(as_text=True)
    assert "Customer list" in page
    admin_client.get("/lang/zh")


def test_add_form_labels_and_buttons_are_chinese(admin_client):
    page = admin_client.get("/customerview/add").get_data(as_text=True)
    for word in ["新增客户", "电话", "标签", "姓名"]:
        assert word in page, word


def test_every_message_has_a_chinese_translation():
    with open("app/translations/messages.pot", "rb") as fh:
        template = read_po(fh)
    with open("app/translations/zh/LC_MESSAGES/messages.po", "rb") as fh:
        catalog = read_po(fh)
    missing = [
        m.id
        for m in template
        if m.id and (not catalog.get(m.id) or not catalog.get(m.id).string or catalog.get(m.id).fuzzy)
    ]
    assert missing == []
