"""A filled document made into a PDF by the real LibreOffice (`soffice`, installed by ./dev):
shipped templates rendered with a full deal come out as PDFs whose text (read back with
poppler's pdftotext) has the Russian title and the client, in embedded fonts; what the
outcomes mean (permanent or retried); a deadline, or an interruption such as RQ's job
timeout, kills soffice's whole process group and leaves no process behind; two processes
convert at once, each on a profile of its own."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from connector.errors import Permanent, Retryable
from connector.i18n import t
from robots.documents import pdf, profiles, render
from robots.documents.kinds import kind
from robots.documents.problems import ConversionProblem, ConversionRetryable
from tests import documents_sample as s

ROOT = Path(__file__).resolve().parents[2]
NB = "\u00a0"
# kind, the client the sample gives it, the Russian title the template prints
SHIPPED = [("invoice", s.CLIENT, "Счёт на оплату"),
           ("buyout_contract", s.PERSON, "ДОГОВОР № ДВ-2026-00042 купли-продажи (выкупа) "
            "транспортного средства"),
           ("work_order", s.CLIENT, "ЗАКАЗ-НАРЯД № ЗН-2026-00042 от 22 ноября 2026 г.")]


def filled(code: str, client=s.CLIENT) -> bytes:
    k = kind(code)
    context = s.context(code, client=client, title=t("ru", k.title))
    return render.render(k.path.read_bytes(), context)


@pytest.fixture(scope="module")
def invoice() -> bytes:
    return filled("invoice")


def pdf_text(data: bytes, tmp_path: Path) -> str:
    """The PDF's text with every run of white space (line ends, no-break spaces) one space."""
    path = tmp_path / "out.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True,
                          capture_output=True, text=True, timeout=60).stdout
    return re.sub(r"\s+", " ", text.replace(NB, " "))


def pdf_info(data: bytes, tmp_path: Path, tool: str = "pdfinfo") -> str:
    path = tmp_path / "info.pdf"
    path.write_bytes(data)
    return subprocess.run([tool, str(path)], check=True, capture_output=True, text=True,
                          timeout=60).stdout


def soffice_of(base: Path) -> list[int]:
    """Running processes (zombies are over) whose command line names a profile under
    `base`: every soffice of these conversions (oosplash passes it to soffice.bin)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes()
            state = Path(f"/proc/{entry.name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != b"Z" and str(base).encode() in cmdline:
            found.append(int(entry.name))
    return found


# shipped templates ------------------------------------------------------------------------
@pytest.mark.parametrize(("code", "client", "title"), SHIPPED, ids=[c for c, *_ in SHIPPED])
def test_a_shipped_template_becomes_a_pdf_with_its_title_and_the_client(code, client, title,
                                                                        tmp_path):
    document = pdf.to_pdf(filled(code, client), profiles_dir=tmp_path / "profiles")
    assert pdf.whole_pdf(document)
    pages = int(re.search(r"^Pages:\s+(\d+)", pdf_info(document, tmp_path), re.M).group(1))
    assert pages >= 1
    text = pdf_text(document, tmp_path)
    assert title in text, text[:400]
    assert client.name.replace(NB, " ") in text, text[:800]
    assert "2026-00042" in text  # the number
    fonts = pdf_info(document, tmp_path, "pdffonts")
    # Times New Roman's metric twin, embedded: the page looks as laid out in Word
    assert "LiberationSerif" in fonts
    assert all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:])


def test_the_invoice_pdf_has_the_amounts_and_the_rows(invoice, tmp_path):
    text = pdf_text(pdf.to_pdf(invoice, profiles_dir=tmp_path / "profiles"), tmp_path)
    assert "275 550,00" in text
    assert "Двести семьдесят пять тысяч пятьсот пятьдесят рублей 00 копеек" in text
    assert "iphone 14" in text and "ООО «Ромашка»" in text


# what an outcome means --------------------------------------------------------------------
def broken_docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document><w:body><w:p>")
    return out.getvalue()


@pytest.mark.parametrize("data", [b"not a Word file at all", broken_docx(), b"",
                                  b"PK\x03\x04 cut off"],
                         ids=["text", "broken-word-xml", "empty", "broken-zip"])
def test_a_file_libreoffice_cannot_read_is_a_permanent_problem(data, tmp_path):
    base = tmp_path / "profiles"
    with pytest.raises(ConversionProblem) as caught:
        pdf.to_pdf(data, profiles_dir=base)
    assert isinstance(caught.value, Permanent)
    assert caught.value.text("ru") == ("LibreOffice не может открыть документ как файл Word, "
                                       "поэтому PDF не создан")
    assert not soffice_of(base)


def test_no_soffice_is_a_permanent_problem_naming_the_debian_package(invoice, tmp_path):
    with pytest.raises(ConversionProblem) as caught:
        pdf.to_pdf(invoice, program="soffice-that-is-not-installed",
                   profiles_dir=tmp_path / "profiles")
    for lang in ("ru", "en"):
        assert "libreoffice-writer-nogui" in caught.value.text(lang)
    assert "не установлен LibreOffice" in caught.value.text("ru")


def run(returncode, log="", output=None):
    return pdf.Run(returncode, log, output)


GOOD = b"%PDF-1.7\n" + b"x" * 2000 + b"\n%%EOF\n"


@pytest.mark.parametrize(("outcome", "error", "words"), [
    (run(None), ConversionRetryable, "after 2.5 s"),
    (run(0, "Error: source file could not be loaded\n"), ConversionProblem, "cannot open"),
    (run(-9), ConversionRetryable, "signal SIGKILL"),
    (run(81, "Warning: failed to launch javaldx\nsegfault\n"), ConversionRetryable,
     "exit status 81 segfault"),
    (run(0, "convert in.docx -> in.pdf\n"), ConversionRetryable, "made no PDF"),
    (run(0, "", GOOD[:900]), ConversionRetryable, "not a whole PDF"),
    (run(0, "", b"<html>" + GOOD), ConversionRetryable, "not a whole PDF"),
])
def test_what_an_outcome_means(outcome, error, words):
    with pytest.raises(error) as caught:
        pdf.verdict(outcome, 2.5)
    assert words in str(caught.value)
    assert isinstance(caught.value, Retryable if error is ConversionRetryable else Permanent)
    assert caught.value.text("ru") != caught.value.text("en")  # translated


def test_a_whole_pdf_is_the_answer():
    assert pdf.verdict(run(0, "convert …", GOOD), 2.5) == GOOD


# deadlines and interruptions --------------------------------------------------------------
def test_a_timeout_kills_the_process_group_and_leaves_no_soffice(invoice, tmp_path):
    base = tmp_path / "profiles"
    started = time.monotonic()
    with pytest.raises(ConversionRetryable) as caught:
        pdf.to_pdf(invoice, timeout_s=0.5, profiles_dir=base)
    assert time.monotonic() - started < 0.5 + pdf.GONE_WAIT_S
    assert "0.5 s" in str(caught.value)
    assert caught.value.text("ru").startswith("Создание PDF остановлено через 0,5 с")
    assert not soffice_of(base)
    assert not (base / "slot-0").exists()  # the profile it may have half written is gone
    assert pdf.whole_pdf(pdf.to_pdf(invoice, profiles_dir=base))  # and the retry works


class JobTimeout(Exception):
    """What RQ's death penalty raises in a work-horse when a job runs past its timeout."""


def test_an_interrupted_conversion_leaves_no_soffice(invoice, tmp_path):
    base = tmp_path / "profiles"

    def penalty(signum, frame):
        raise JobTimeout()

    previous = signal.signal(signal.SIGALRM, penalty)
    signal.setitimer(signal.ITIMER_REAL, 0.5)  # RQ's UnixSignalDeathPenalty does the same
    try:
        with pytest.raises(JobTimeout):
            pdf.to_pdf(invoice, timeout_s=60, profiles_dir=base)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not soffice_of(base)
    assert not (base / "slot-0").exists()


def test_soffice_runs_with_its_own_home_and_none_of_the_workers_secrets(invoice, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", "worker-secret")
    base = tmp_path / "profiles"
    seen: list[bytes] = []

    def watch() -> None:
        deadline = time.monotonic() + 30
        while not seen and time.monotonic() < deadline:
            for pid in soffice_of(base):
                try:
                    seen.append(Path(f"/proc/{pid}/environ").read_bytes())
                except OSError:
                    continue
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert pdf.whole_pdf(pdf.to_pdf(invoice, profiles_dir=base))
    finally:
        watcher.join()
    env = dict(item.split(b"=", 1) for item in seen[0].split(b"\0") if b"=" in item)
    assert env[b"HOME"] == str(base / "slot-0-home").encode()
    assert b"CONNECTOR_ENCRYPTION_KEY" not in env and b"worker-secret" not in seen[0]


# profiles ---------------------------------------------------------------------------------
def test_two_processes_convert_at_once_each_on_its_own_profile(invoice, tmp_path):
    base = tmp_path / "profiles"
    source = tmp_path / "in.docx"
    source.write_bytes(invoice)
    # both start converting at the same moment, once their imports are done
    script = ("import json, sys, time; from pathlib import Path; "
              "from robots.documents.pdf import to_pdf; "
              "data = Path(sys.argv[2]).read_bytes(); "
              "time.sleep(max(0, float(sys.argv[3]) - time.time())); "
              "started = time.time(); out = to_pdf(data, profiles_dir=Path(sys.argv[1])); "
              "sys.stderr.write(json.dumps([started, time.time()])); "
              "sys.stdout.buffer.write(out)")
    at = str(time.time() + 4)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(base), str(source), at],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in results]
    for out, _ in results:
        assert pdf.whole_pdf(out)
        assert "Рога & Копыта" in pdf_text(out, tmp_path)
    (a_start, a_end), (b_start, b_end) = (json.loads(err.decode().splitlines()[-1])
                                          for _, err in results)
    assert a_start < b_end and b_start < a_end  # they ran at the same time
    assert sorted(p.name for p in base.iterdir() if p.is_dir() and "home" not in p.name) \
        == ["slot-0", "slot-1"]


def test_a_slot_in_use_is_skipped_and_the_lowest_free_one_reused(tmp_path):
    with profiles.taken(tmp_path) as first, profiles.taken(tmp_path) as second:
        assert (first.slot, second.slot) == (0, 1)
        first.path.mkdir()
    with profiles.taken(tmp_path) as again:
        assert again.slot == 0 and not again.fresh  # warm: made by the first
    with profiles.taken(tmp_path, slots=1), pytest.raises(profiles.AllBusy), \
            profiles.taken(tmp_path, slots=1):
        pass


def test_a_profile_directory_of_someone_else_is_refused(tmp_path):
    link = tmp_path / "elsewhere"
    link.symlink_to(tmp_path)  # not a directory of its own: a link planted in /tmp
    with pytest.raises(PermissionError), profiles.taken(link):
        pass
