"""The documents in real Chromium, in Russian: the deal tab with two documents made by
make.make against the emulator (one sent for checking), a new version started from its
button and followed to its result; the admin page's panels with a template uploaded through
the file input, and one refused with the reason. Screenshots kept, axe-core finds nothing."""

from __future__ import annotations

import json
from pathlib import Path

from connector.crm.port import ItemRef
from robots.documents import config, steps
from tests.conftest import Stack
from tests.e2e.browser import (
    ARTEFACTS,
    accessibility_problems,
    browser_page,
    open_app,
    post_frame,
    shoot,
)
from tests.http.test_documents_pages import (
    ADMIN,
    DEAL,
    configure,
    ctx_of,
    made_now,
    template_bytes,
)


def frame(stack: Stack, deal_id: int) -> dict[str, str]:
    portal = stack.portal()
    return {"member_id": portal["member_id"], "APPLICATION_TOKEN": portal["application_token"],
            "AUTH_ID": stack.control("POST", "tokens", json={"user_id": ADMIN})["access_token"],
            "PLACEMENT": "CRM_DEAL_DETAIL_TAB",
            "PLACEMENT_OPTIONS": json.dumps({"ID": str(deal_id)})}


def test_the_deal_tab_with_two_documents_and_a_new_version(installed: Stack):
    configure(installed, checker=ADMIN)
    invoice = made_now(installed, "invoice").made
    act = made_now(installed, "services_act").made
    assert invoice is not None and act is not None
    ctx = ctx_of(installed)
    doc = config.document(ctx.settings["documents"], "services_act")
    assert doc is not None
    ref = ItemRef("deal", DEAL)
    assert steps.send_for_check(ctx, ref, doc, act).status == "checking"
    configure(installed, checker=ADMIN, pdf=True)  # the PDFs are now awaited
    with browser_page("ru-RU", width=1100) as page:
        post_frame(page, f"{installed.app_url}/placements/deal_tab?LANG=ru",
                   frame(installed, DEAL))
        section = page.locator("#section-documents-documents")
        assert f"Счёт на оплату № {invoice.number}" in section.inner_text()
        assert "Черновик" in section.inner_text() and "На проверке" in section.inner_text()
        assert section.get_by_text("PDF готовится").count() == 2
        shoot(page, "deal_tab_documents.ru")
        assert accessibility_problems(page) == []
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("button", name="Новая версия: «Счёт на оплату»").click()
        assert page.get_by_role("status").first.inner_text().startswith("В очереди")
        installed.run_worker()  # while the page polls
        page.get_by_text("(версия 2)").wait_for(timeout=20000)
        assert page.get_by_text("Готово.").is_visible()
        assert "Прежние версии" in section.inner_text()
        shoot(page, "deal_tab_documents_new_version.ru")
        assert accessibility_problems(page) == []


def test_the_admin_page_shows_the_panels_and_takes_a_template(installed: Stack,
                                                             tmp_path: Path):
    configure(installed)
    made = steps.run_make(ctx_of(installed), {"kind": "deal", "id": DEAL, "code": "invoice"})
    assert made["number"].startswith("СЧ-"), made  # as the robot makes it: the registry too
    good = tmp_path / "Мой счёт.docx"
    good.write_bytes(template_bytes("Счёт № {{ doc.number }} для {{ buyer.name }}",
                                    "Итого: {{ totals.gross }} ({{ totals.gross_words }})"))
    broken = tmp_path / "Сломанный.docx"
    broken.write_bytes(template_bytes("Покупатель: {{ buyer.name }"))
    with browser_page("ru-RU", width=1100) as page:
        open_app(installed, page, lang="ru")
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("link", name="Документы", exact=True).click()
        assert page.locator("#panel-documents-templates").is_visible()
        page.set_input_files("#doc-upload", str(good))
        with page.expect_navigation(wait_until="load"):
            page.click("#doc-upload-send")
        assert "«Мой счёт.docx» загружен" in page.locator("#notice").inner_text()
        assert "Мой счёт.docx" in page.locator("#doc-uploads").inner_text()
        numbers = page.locator("#doc-numbers").inner_text()
        assert "ООО «Ромашка»" in numbers and "СЧ-" in numbers
        assert "смарт-процесс" in page.locator("#doc-registry").inner_text()
        shoot(page, "admin_documents.ru")
        for name in ("templates", "fields", "numbers"):  # each panel alone, to be read
            page.locator(f"#panel-documents-{name}").screenshot(
                path=str(ARTEFACTS / f"admin_documents_{name}.ru.png"))
        assert accessibility_problems(page) == []
        page.set_input_files("#doc-upload", str(broken))
        with page.expect_navigation(wait_until="load"):
            page.click("#doc-upload-send")
        refused = page.locator("#notice").inner_text()
        assert refused.startswith("Шаблон «Сломанный.docx» не принят: Ошибка в шаблоне"), refused
        page.locator("#notice").screenshot(path=str(ARTEFACTS / "admin_documents_refused.ru.png"))
        assert accessibility_problems(page) == []
