"""The documents' deal-tab section and admin panels over real HTTP, against the emulator's
demo portal (deal 2 is bound to our company «Ромашка» and the client «Вектор» and has three
product rows): documents made by make.make are listed from Redis with their links and
states; the tab's buttons queue one job each and the job's own refusal is shown in words;
templates are uploaded as multipart forms, checked, refused with the reason, listed with
their fields and deleted unless a document uses them; a 50 MB body is refused unread."""

from __future__ import annotations

import html
import io
import re
import socket
from typing import Any
from urllib.parse import parse_qs, urlparse

import docx
import requests

from connector.context import JobContext
from connector.crm.port import ItemRef
from robots.documents import config, kinds, make, render, steps, uploads
from robots.documents.config import NAME
from tests.conftest import Stack
from tests.http.test_admin_settings import AppPage
from tests.http.test_deal_tab import act, open_tab, progress

DEAL = 2  # emulator.seed.DOCUMENTS_DEAL
ADMIN = 1


def services(stack: Stack) -> Any:
    return stack.app.extensions["connector"]


def configure(stack: Stack, **documents: Any) -> None:
    """The documents' settings (PDF off: its queue is not part of this test)."""
    services(stack).portal_settings.put(stack.portal()["member_id"], {
        NAME: {"pdf": False, **documents}})


def ctx_of(stack: Stack) -> JobContext:
    ctx = JobContext.load(services(stack), stack.portal()["member_id"], "test", NAME)
    assert ctx is not None
    return ctx


def made_now(stack: Stack, code: str, deal: int = DEAL, new_version: bool = False
             ) -> make.Outcome:
    """A document made as the robot makes it (make.make against the emulator)."""
    ctx = ctx_of(stack)
    doc = config.document(ctx.settings[NAME], code)
    assert doc is not None
    return make.make(ctx, ItemRef("deal", deal), doc, new_version)


def tab_text(stack: Stack, deal: int = DEAL) -> str:
    page = open_tab(stack, deal, user_id=ADMIN)
    assert page.status_code == 200, page.text[:300]
    return page.text


def section_of(page: str) -> str:
    return page.split('id="section-documents-documents"', 1)[1].split("</section>", 1)[0]


def job_of(resp: requests.Response) -> str:
    assert resp.status_code == 303, resp.text[:300]
    return parse_qs(urlparse(resp.headers["Location"]).query).get("job", [""])[0]


def words(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)))


def test_the_tab_lists_the_deals_documents_from_redis_with_their_links(installed: Stack):
    configure(installed)
    first = made_now(installed, "invoice").made
    assert first is not None and first.number.startswith("СЧ-")
    before = installed.stats()["requests"]
    page = tab_text(installed)
    section = section_of(page)
    text = words(section)
    assert f"Invoice for payment № {first.number}" in text, text  # the viewer's language
    assert "Draft" in text  # registry.STATUS_TITLES, in the viewer's language
    assert f'href="{html.escape(first.file_url)}"' in section and "Word file (.docx)" in text
    assert "PDF" not in text  # switched off: no "being made"
    # the documents the deal may still get: every configured one but the invoice
    options = re.findall(r'<option value="([a-z_]+)">', section)
    assert "invoice" not in options and options == [
        k.code for k in kinds.KINDS if k.code != "invoice"]
    assert 'name="action" value="documents.documents.make"' in section
    assert 'value="invoice:1"' in section  # its "send for checking" button
    # opening the tab asked the portal only who is looking (frame and deal access)
    assert installed.stats()["requests"] - before <= 2
    # the PDF as its job records it: awaited, refused with the reason, made
    configure(installed, pdf=True)
    assert "the PDF is being made" in words(section_of(tab_text(installed)))
    recs, ref = make.records(ctx_of(installed)), ItemRef("deal", DEAL)
    recs.update(ref, "invoice", 1, pdf_error="LibreOffice stopped after 60 s")
    assert "no PDF: LibreOffice stopped after 60 s" in words(section_of(tab_text(installed)))
    recs.update(ref, "invoice", 1, pdf_error="", pdf_url="https://demo.test/disk/9/pdf")
    section = section_of(tab_text(installed))
    assert '<a href="https://demo.test/disk/9/pdf" target="_blank" rel="noopener">PDF</a>' \
        in section and "being made" not in section


def test_make_new_version_and_a_double_click_queue_one_job_each(installed: Stack):
    configure(installed)
    made_now(installed, "invoice")
    installed.run_worker()  # the portal's events about what it wrote
    page = tab_text(installed)
    first = act(installed, page, DEAL, "documents.documents.make", value="services_act")
    again = act(installed, page, DEAL, "documents.documents.make", value="services_act")
    assert job_of(first) == job_of(again) != ""
    assert installed.queued() == 1
    # a value the viewer forged names no document: nothing is queued
    assert job_of(act(installed, page, DEAL, "documents.documents.make", value="x")) == ""
    assert job_of(act(installed, page, DEAL, "documents.documents.new_version",
                      value="services_act")) == ""  # not made yet: no new version of it
    assert installed.queued() == 1
    installed.run_worker()
    done = progress(installed, first.headers["Location"])
    assert done["done"] is True and "Done." in done["html"], done["html"]
    assert "Act of services rendered № АКТ-" in words(done["html"])
    newer = act(installed, page, DEAL, "documents.documents.new_version", value="invoice")
    installed.run_worker()
    assert "Done." in progress(installed, newer.headers["Location"])["html"]
    recs = make.records(ctx_of(installed)).versions(ItemRef("deal", DEAL), "invoice")
    assert [m.version for m in recs] == [1, 2] and recs[0].number == recs[1].number
    section = section_of(tab_text(installed))
    assert f"№ {recs[1].number} (version 2)" in words(section)
    assert "Earlier versions: version 1" in words(section)  # the same number: not repeated
    assert f'href="{html.escape(recs[0].file_url)}"' in section


def test_a_jobs_refusal_is_shown_to_the_manager_in_words(installed: Stack):
    configure(installed)  # nobody is set to check documents
    made_now(installed, "invoice")
    page = tab_text(installed)
    check = act(installed, page, DEAL, "documents.documents.check", value="invoice:1")
    installed.run_worker()
    answer = progress(installed, check.headers["Location"])
    assert answer["done"] is True
    assert "It did not work: Nobody is set to check documents: choose the checker" in \
        answer["html"]
    # a deal without a client or products: the make job says what to fill in
    bare = int(installed.control("POST", "crm/deal", json={"fields": {
        "TITLE": "Без реквизитов", "ASSIGNED_BY_ID": ADMIN}})["id"])
    installed.run_worker()
    page = tab_text(installed, bare)
    assert "The app has made no document for this deal yet." in page
    job = act(installed, page, bare, "documents.documents.make", value="invoice")
    installed.run_worker()
    answer = progress(installed, job.headers["Location"])
    assert "It did not work: " in answer["html"] and "Fill in first" in html.unescape(
        answer["html"]), answer["html"]


def test_send_for_checking_makes_the_task_and_the_tab_says_it_is_open(installed: Stack):
    configure(installed, checker=ADMIN)
    made_now(installed, "invoice")
    page = tab_text(installed)
    check = act(installed, page, DEAL, "documents.documents.check", value="invoice:1")
    again = act(installed, page, DEAL, "documents.documents.check", value="invoice:1")
    assert job_of(check) == job_of(again)
    installed.run_worker()
    assert "Done." in progress(installed, check.headers["Location"])["html"]
    made = make.records(ctx_of(installed)).latest(ItemRef("deal", DEAL), "invoice")
    assert made is not None and made.status == "checking" and made.check_task
    section = section_of(tab_text(installed))
    assert f"Being checked · check task №{made.check_task} is open" in words(section)
    assert 'value="invoice:1"' not in section  # no second check


# the admin page --------------------------------------------------------------------------
def template_bytes(*paragraphs: str) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def upload(page: AppPage, name: str, content: bytes) -> AppPage:
    """The panel's upload form as a browser sends it (multipart, the token in its address)."""
    token = page.hidden("t")
    page.resp = requests.post(
        f"{page.stack.app_url}/app/documents?LANG={page.lang}&t={token}",
        data={"t": token, "csrf": page.hidden("csrf"), "_action": "templates.upload"},
        files={"template": (name, content, "application/octet-stream")}, timeout=30)
    return page


def notice(page: AppPage) -> str:
    found = re.search(r'id="notice"[^>]*>(.*?)</p>', page.text, re.S)
    return html.unescape(found[1]) if found else ""


def panel(page: AppPage, name: str) -> str:
    return page.text.split(f'id="panel-documents-{name}"', 1)[1].split("</section>", 1)[0]


def test_the_panels_list_the_shipped_templates_fields_and_numbers(installed: Stack):
    configure(installed)
    page = AppPage(installed).open("documents")
    assert page.resp.status_code == 200
    shipped = panel(page, "templates")
    invoice = render.fields(kinds.kind("invoice").path.read_bytes())
    row = shipped.split("<code>invoice</code>", 1)[1].split("</tr>", 1)[0]
    assert set(re.findall(r"<code>([^<]+)</code>", row)) == invoice
    assert "No template uploaded yet" in shipped
    fields = words(panel(page, "fields"))
    assert "seller.bank.bik" in fields and "items[].total" in fields and "doc.number" in fields
    assert "vehicle.vin" in fields and "Vehicle buy-out contract" in fields
    assert "deal.fields.UF_CRM_…" in fields and "buyer.fields.RQ_…" in fields
    numbers = words(panel(page, "numbers"))
    assert "not made yet" in numbers and "none yet" in numbers
    made = steps.run_make(ctx_of(installed), {"kind": "deal", "id": DEAL, "code": "invoice"})
    numbers = words(panel(AppPage(installed).open("documents"), "numbers"))
    kind = steps.registry_kind(ctx_of(installed))
    assert kind.startswith("item:") and f"smart process {kind[5:]}" in numbers
    n = int(made["number"].rsplit("-", 1)[1])
    assert re.search(rf"Invoice for payment \(invoice\) ООО «Ромашка» СЧ-\{{YYYY\}}-"
                     rf"\{{NNNNN\}} \d{{4}} СЧ-\d{{4}}-{n:05d} СЧ-\d{{4}}-{n + 1:05d}", numbers
                     ), numbers


def test_an_uploaded_template_is_checked_listed_and_deleted_unless_in_use(installed: Stack):
    configure(installed)
    page = AppPage(installed).open("documents")
    good = template_bytes("Счёт № {{ doc.number }} для {{ buyer.name }}",
                          "{% for it in items %}{{ it.name }} {{ it.total }}{% endfor %}")
    upload(page, "Мой счёт.docx", good)
    assert page.resp.status_code == 200, notice(page)
    sha = uploads.Uploads(installed.redis, ctx_of(installed).key).all()[0].sha
    assert "The template «Мой счёт.docx» is uploaded" in notice(page) and sha in notice(page)
    listed = panel(page, "templates")
    row = listed.split("Мой счёт.docx", 1)[1].split("</tr>", 1)[0]
    assert set(re.findall(r"<code>([^<]+)</code>", row)) == {
        "buyer.name", "doc.number", "items", "items[].name", "items[].total"}
    # refused with the reason, in the admin's language; nothing kept
    upload(page, "broken.docx", template_bytes("Покупатель: {{ buyer.name }"))
    assert page.resp.status_code == 422
    assert notice(page) == ("The template «broken.docx» was not accepted: Template error in "
                            "the document body, paragraph 1 «Покупатель: {{ buyer.name }»: "
                            "unexpected '}'")
    # what only the sandbox's fill finds: refused at upload, not by the first robot
    upload(page, "escape.docx", template_bytes("{{ buyer.name.__class__ }}"))
    assert page.resp.status_code == 422
    assert "tries what templates may not do" in notice(page), notice(page)
    upload(page, "loop.docx", template_bytes("{% for x in range(10**9) %}.{% endfor %}"))
    assert "A loop in the template is too long" in notice(page), notice(page)
    upload(page, "notes.txt", b"just text")
    assert "is not a Word document (.docx)" in notice(page), notice(page)
    ru = AppPage(installed, lang="ru").open("documents")
    upload(ru, "broken.docx", template_bytes("{{ buyer.name }"))
    assert notice(ru).startswith("Шаблон «broken.docx» не принят: "), notice(ru)
    assert len(uploads.Uploads(installed.redis, ctx_of(installed).key).all()) == 1
    # a typo is kept (the admin may mean a field to come) but named at once
    upload(page, "typo.docx", template_bytes("{{ buyer.nmae }} {{ deal.fields.UF_CRM_7 }}"))
    assert page.resp.status_code == 200
    assert "but it uses fields no document has: buyer.nmae. Correct them" in notice(page)
    typo = next(u for u in uploads.Uploads(installed.redis, ctx_of(installed).key).all()
                if u.name == "typo.docx")
    page.post("documents", {"_action": "templates.delete", "sha": typo.sha})
    assert len(uploads.Uploads(installed.redis, ctx_of(installed).key).all()) == 1
    # in use by a document of the settings: not deleted
    configure(installed, templates=[{"code": "my_invoice", "kind": "custom",
                                     "title": "Мой счёт", "file": sha}])
    page.post("documents", {"_action": "templates.delete", "sha": sha})
    assert page.resp.status_code == 422
    assert notice(page) == ("«Мой счёт.docx» is the template of my_invoice: change those "
                            "documents in the settings first.")
    configure(installed)
    page.post("documents", {"_action": "templates.delete", "sha": sha})
    assert page.resp.status_code == 200 and "is deleted" in notice(page)
    assert uploads.Uploads(installed.redis, ctx_of(installed).key).all() == []


def test_a_template_over_the_limit_is_refused_and_a_50_mb_body_is_not_read(installed: Stack):
    configure(installed)
    page = AppPage(installed).open("documents")
    over = good_docx_padded(render.MAX_TEMPLATE_BYTES + 1)
    upload(page, "big.docx", over)
    assert page.resp.status_code == 422
    assert "templates up to 10 MB are accepted" in notice(page), notice(page)
    # 50 MB announced; 64 KB sent: the answer comes without the rest ever being sent
    token = page.hidden("t")
    host, port = installed.app_url.removeprefix("http://").split(":")
    boundary = "cc-test-boundary"
    head = (f"POST /app/documents?LANG=en&t={token} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {50 * 1024 * 1024}\r\n\r\n").encode()
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"template\"; "
            f"filename=\"huge.docx\"\r\n\r\n").encode() + b"\0" * 65536
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + part)
        answer = b""
        while b"</html>" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 413"), status
    body = html.unescape(rest.decode("utf-8", "replace"))
    assert "The file is 50.0 MB; this page accepts files up to 10 MB. Nothing was saved." in body
    assert uploads.Uploads(installed.redis, ctx_of(installed).key).all() == []


def good_docx_padded(size: int) -> bytes:
    """A valid template grown past `size` bytes by an incompressible stored part."""
    import os
    import zipfile

    buf = io.BytesIO(template_bytes("{{ doc.number }}"))
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_STORED) as z:
        z.writestr("word/media/padding.bin", os.urandom(size))
    return buf.getvalue()


def test_a_check_of_a_version_the_deal_has_not_got_queues_nothing(installed: Stack):
    configure(installed, checker=ADMIN)
    made_now(installed, "invoice")
    installed.run_worker()  # the portal's events about what it wrote
    page = tab_text(installed)
    for value in ("", "invoice:x", "nothing:1", "invoice:9", "invoice:1:2"):
        assert job_of(act(installed, page, DEAL, "documents.documents.check",
                          value=value)) == "", value
    assert installed.queued() == 0
