"""The document and its PDF on their own queue, end to end: a worker on the other queues
hands the robot's call on to `documents` and answers another robot meanwhile (documents
never hold up events and other robots); a worker on `documents` alone makes the invoice,
answers the robot, and converts it with the real LibreOffice, filing the PDF on the
emulator's Disk beside the .docx."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import requests

from connector.queue import DOCUMENTS, QUEUE_NAMES
from tests.conftest import ROOT, Stack
from tests.jobs.test_documents import answer, call, configure, files_in, records, robot

YEAR = date.today().year


def work(stack: Stack, *queues: str) -> None:
    """A burst worker on these queues only, as `crm-connector worker --queues …` runs."""
    stack.settle()
    done = subprocess.run([sys.executable, "-m", "wiring", "worker", "--burst", "--queues",
                           ",".join(queues)], env=stack.env, cwd=ROOT, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_pdf_is_made_by_the_documents_worker_and_filed_beside_the_docx(installed: Stack):
    configure(installed, pdf=True)
    token = robot(installed, 2, "invoice")
    note = installed.control("POST", "robots/run", json={
        "code": "timeline_note", "document_id": ["crm", "CCrmDocumentDeal", "DEAL_1"],
        "document_type": ["crm", "CCrmDocumentDeal", "DEAL"],
        "properties": {"text": "Позвонить клиенту"}})["event_token"]
    work(installed, *(n for n in QUEUE_NAMES if n != DOCUMENTS))
    assert answer(installed, note)["error"] == ""  # not held up by the document
    calls = installed.control("GET", "robots/results", params={"event_token": token})["calls"]
    assert calls == [] and records(installed, 2) == {}
    queues = installed.app.extensions["connector"].queues
    assert queues[DOCUMENTS].count == 1  # the robot's work waits for its own worker

    work(installed, DOCUMENTS)
    got = answer(installed, token)
    assert got["error"] == "" and got["number"] == f"СЧ-{YEAR}-00001", got
    (made,) = records(installed, 2)["invoice"]
    assert made.pdf_id and made.pdf_error == ""
    assert queues[DOCUMENTS].count == 0
    names = sorted(f["NAME"] for f in files_in(installed, made.folder_id))
    stem = f"{made.title} № СЧ-{YEAR}-00001"  # the title in the portal's language
    assert names == [f"{stem}.docx", f"{stem}.pdf"]
    url = call(installed, "disk.file.get", id=made.pdf_id)["DOWNLOAD_URL"]
    content = requests.get(url, timeout=30).content
    assert content.startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=content,
                          capture_output=True, check=True, timeout=60).stdout.decode()
    assert f"СЧ-{YEAR}-00001" in text and "Счёт на оплату" in text
