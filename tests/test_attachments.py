"""Attachments: type checked by content, size limit, random names outside static, permission-checked download."""

import io
import os
from urllib.parse import quote

import pytest
from openpyxl import Workbook

from app.policy.attachments import check_upload, sniff
from app.core.errors import DomainError
from app.extensions import db
from app.models import TicketAttachment, TicketEvent
from tests import factories
from tests.pages import show_page

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
EXE = b"MZ\x90\x00" + b"\x00" * 200


def xlsx_bytes():
    stream = io.BytesIO()
    Workbook().save(stream)
    return stream.getvalue()


@pytest.mark.parametrize(
    "content,kind",
    [
        (PNG, "png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "jpg"),
        (b"%PDF-1.7\n", "pdf"),
        (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 20, "mp4"),
        (b"GIF89a" + b"\x00" * 10, "gif"),
        (EXE, None),
        (b"<script>alert(1)</script>", None),
        (b"PK\x03\x04not a zip", None),
    ],
)
def test_the_type_is_read_from_the_content(content, kind):
    assert sniff(io.BytesIO(content)) == kind


def test_office_files_are_recognised_inside_the_zip():
    assert sniff(io.BytesIO(xlsx_bytes())) == "xlsx"


def test_size_and_type_refusals_have_clear_messages(ctx):
    with pytest.raises(DomainError, match="MB"):
        check_upload("a.png", io.BytesIO(PNG * 10), max_bytes=1024)
    with pytest.raises(DomainError, match="PNG"):
        check_upload("photo.png", io.BytesIO(EXE), max_bytes=10**6)


def upload(client, ticket, content, name, description="现场照片"):
    return client.post(
        "/ticketattachmentview/add",
        content_type="multipart/form-data",
        data={"ticket": str(ticket.id), "description": description, "file": (io.BytesIO(content), name)},
    )


def test_an_upload_is_stored_under_a_random_name_outside_static_and_logged(app, ctx, login):
    ticket = factories.ticket()
    response = upload(login("Service"), ticket, PNG, "漏水照片.png")
    assert response.status_code == 302
    attachment = db.session.query(TicketAttachment).one()
    folder = app.config["UPLOAD_FOLDER"]
    assert os.path.isfile(os.path.join(folder, attachment.file))
    assert not os.path.abspath(folder).startswith(os.path.abspath(app.static_folder))
    prefix = attachment.file.split("_sep_")[0]
    assert len(prefix) == 32 and attachment.file.endswith("_sep_漏水照片.png")
    events = db.session.query(TicketEvent).filter_by(ticket_id=ticket.id, kind="note").all()
    assert len(events) == 1 and "漏水照片.png" in events[0].note


def test_a_disguised_file_is_refused_and_nothing_is_saved(app, ctx, login):
    ticket = factories.ticket()
    before = set(os.listdir(app.config["UPLOAD_FOLDER"])) if os.path.isdir(app.config["UPLOAD_FOLDER"]) else set()
    response = upload(login("Service"), ticket, EXE, "invoice.pdf")
    assert response.status_code == 200 and "PDF" in response.get_data(as_text=True)
    assert db.session.query(TicketAttachment).count() == 0
    after = set(os.listdir(app.config["UPLOAD_FOLDER"])) if os.path.isdir(app.config["UPLOAD_FOLDER"]) else set()
    assert after == before


def test_a_file_over_the_limit_is_refused(app, ctx, login):
    ticket = factories.ticket()
    app.config["CRM_MAX_ATTACHMENT_MB"] = 0.001
    try:
        response = upload(login("Service"), ticket, PNG * 10, "big.png")
    finally:
        app.config["CRM_MAX_ATTACHMENT_MB"] = 50
    assert response.status_code == 200 and "MB" in response.get_data(as_text=True)
    assert db.session.query(TicketAttachment).count() == 0


def test_download_only_of_files_a_readable_record_points_to(app, ctx, login):
    ticket = factories.ticket()
    client = login("Service")
    upload(client, ticket, PNG, "门锁.png")
    stored = db.session.query(TicketAttachment).one().file
    response = client.get(f"/ticketattachmentview/download/{stored}")
    assert response.status_code == 200 and response.data == PNG
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in response.headers["Content-Disposition"]
    assert "%E9%97%A8%E9%94%81.png" in response.headers["Content-Disposition"]  # 门锁.png
    # a file in the folder that no attachment record names (e.g. another model's) is not served
    stray = "f" * 32 + "_sep_other.png"
    with open(os.path.join(app.config["UPLOAD_FOLDER"], stray), "wb") as fh:
        fh.write(PNG)
    assert client.get(f"/ticketattachmentview/download/{stray}").status_code == 404
    assert client.get("/ticketattachmentview/download/..%2Fsecret_key").status_code == 404
    assert app.test_client().get(f"/ticketattachmentview/download/{stored}").status_code in (302, 401)


def test_the_ticket_page_links_its_attachments(app, ctx, login):
    ticket = factories.ticket()
    client = login("Service")
    upload(client, ticket, PNG, "现场.png")
    page = show_page(client, f"/ticketview/show/{ticket.id}").get_data(as_text=True)
    stored = db.session.query(TicketAttachment).one().file
    assert f"/ticketattachmentview/download/{quote(stored)}" in page and "现场.png" in page
