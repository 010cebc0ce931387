"""A filled .docx made into a PDF by LibreOffice headless (Debian's libreoffice-writer-nogui).

One conversion: a temporary directory (the input, the output, soffice's TMPDIR), a profile
slot of its own (robots.documents.profiles), and `soffice --headless --norestore
--convert-to pdf` in a new session, so in a process group of its own that is killed whole
(the shell wrapper, oosplash, soffice.bin) at the deadline, and also when the caller is
interrupted: RQ's job timeout raises in the middle of the wait. The input must be a zip
with a Word body and the import filter is named, because LibreOffice otherwise makes an
empty document of an empty file and reads any other bytes as plain text, and would make a
PDF of either.

What an outcome means is `verdict`'s decision, from the exit status, soffice's log and the
output: a document LibreOffice cannot load is permanent (ConversionProblem); a timeout, a
crash, no output or an output that is no whole PDF is ConversionRetryable, and the profile
it ran on is discarded, so the retry starts from a fresh one. Conversions take ≈1 s on a
warm profile, more on a cold one (bench.documents: pdf_seconds_p95, pdf_cold_seconds).
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from babel.numbers import format_decimal

from connector.i18n import N_
from robots.documents import profiles
from robots.documents.problems import ConversionProblem, ConversionRetryable

log = logging.getLogger(__name__)

PROGRAM = "soffice"
PACKAGE = "libreoffice-writer-nogui"
INFILTER = "MS Word 2007 XML"  # LibreOffice's .docx import filter
TIMEOUT_S = 120.0
LANG = "C.UTF-8"  # soffice's locale when the worker has none
GONE_WAIT_S = 5.0  # how long a killed process group may take to go
LOG_TAIL = 300  # characters of soffice's log kept in a message
UNREADABLE_MARK = "source file could not be loaded"  # what soffice prints, exiting with 0

NOT_INSTALLED = N_("PDF cannot be made: LibreOffice is not installed on the server (install "
                   "the Debian package {package})")
UNREADABLE = N_("LibreOffice cannot open the document as a Word file, so no PDF was made")
# retried by the job; the words say what happened, not what comes next (the last try's too)
TIMED_OUT = N_("Making the PDF was stopped after {seconds} s: LibreOffice took too long")
CRASHED = N_("LibreOffice stopped without making the PDF ({detail})")
NO_OUTPUT = N_("LibreOffice made no PDF ({detail})")
NOT_PDF = N_("LibreOffice made a file that is not a whole PDF")
BUSY = N_("Every LibreOffice profile on the server is in use ({slots} conversions at once)")


@dataclass(frozen=True)
class Seconds:
    """A duration in a message, written the reader's way (0,5 in Russian)."""

    value: float

    def text_in(self, lang: str) -> str:
        return format_decimal(self.value, locale=lang)

    def __str__(self) -> str:
        return self.text_in("en")


@dataclass(frozen=True)
class Run:
    """How one soffice run ended: its exit status (None: killed at the deadline), its log,
    the file it wrote (None: none)."""

    returncode: int | None
    log: str
    output: bytes | None


def _tail(text: str) -> str:
    lines = [line for line in text.splitlines()
             if line.strip() and "javaldx" not in line]  # Debian's soffice warns of no Java
    shown = " ".join(lines)
    return shown if len(shown) <= LOG_TAIL else "…" + shown[-LOG_TAIL:]


def _status(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


def word_archive(data: bytes) -> bool:
    """A zip archive with a Word body, which is all the import filter is offered: it makes
    an empty document of an empty file rather than refuse it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


def whole_pdf(data: bytes) -> bool:
    """A PDF from its header to its end-of-file marker (a cut-off write has none)."""
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]


def verdict(run: Run, timeout_s: float) -> bytes:
    """The PDF, or the error `run` means: ConversionProblem when no retry can help,
    ConversionRetryable when one may."""
    if run.returncode is None:
        raise ConversionRetryable(TIMED_OUT, {"seconds": Seconds(timeout_s)})
    if UNREADABLE_MARK in run.log:
        raise ConversionProblem(UNREADABLE)
    if run.returncode != 0:
        raise ConversionRetryable(CRASHED, {"detail": " ".join(
            filter(None, (_status(run.returncode), _tail(run.log))))})
    if run.output is None:
        raise ConversionRetryable(NO_OUTPUT, {"detail": _tail(run.log) or "no message"})
    if not whole_pdf(run.output):
        raise ConversionRetryable(NOT_PDF)
    return run.output


def group_alive(pgid: int) -> list[int]:
    """The processes of group `pgid` that have not ended (zombies are over: left out)."""
    alive = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it ended while we looked
        if fields[0] != b"Z" and int(fields[2]) == pgid:
            alive.append(int(entry.name))
    return alive


def _kill_group(pgid: int) -> None:
    """SIGKILL to the whole group, then wait (up to GONE_WAIT_S) until none of it runs."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + GONE_WAIT_S
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)


def command(program: str, profile: profiles.Profile, source: Path) -> list[str]:
    return [program, f"-env:UserInstallation={profile.url}", "--headless", "--norestore",
            f"--infilter={INFILTER}", "--convert-to", "pdf", "--outdir", str(source.parent),
            str(source)]


def _run(program: str, profile: profiles.Profile, work: Path, docx: bytes,
         timeout_s: float) -> Run:
    source = work / "in.docx"
    source.write_bytes(docx)
    # what soffice needs and no more: the worker's keys and tokens stay with the worker
    env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": os.environ.get("LANG", LANG),
           "HOME": str(profile.home), "TMPDIR": str(work)}
    with open(work / "soffice.log", "wb") as out:
        try:
            proc = subprocess.Popen(command(program, profile, source),
                                    stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, cwd=work, env=env,
                                    start_new_session=True, pass_fds=(profile.lock_fd,))
        except OSError as exc:  # no process to be had (EAGAIN, ENOMEM): a retry may get one
            raise ConversionRetryable(CRASHED, {"detail": str(exc)}) from None
    try:
        returncode: int | None = proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        returncode = None
    finally:  # the group goes however the wait ended (a timeout, RQ's job timeout, ^C)
        _kill_group(proc.pid)
        proc.wait()
    result = work / "in.pdf"
    return Run(returncode, (work / "soffice.log").read_text("utf-8", "replace"),
               result.read_bytes() if result.exists() else None)


def to_pdf(docx: bytes, timeout_s: float = TIMEOUT_S, *, program: str = PROGRAM,
           profiles_dir: Path = profiles.BASE) -> bytes:
    """The PDF of a .docx, made by LibreOffice in at most `timeout_s` seconds.
    ConversionProblem when LibreOffice is missing or cannot read it; ConversionRetryable
    when it ran out of time, crashed or every profile was busy."""
    found = shutil.which(program)
    if found is None:
        raise ConversionProblem(NOT_INSTALLED, {"package": PACKAGE})
    if not word_archive(docx):
        raise ConversionProblem(UNREADABLE)
    try:
        with profiles.taken(profiles_dir) as profile, \
                tempfile.TemporaryDirectory(prefix="cc-pdf-") as tmp:
            ended_well = False
            started = time.monotonic()
            try:
                run = _run(found, profile, Path(tmp), docx, timeout_s)
                ended_well = run.returncode == 0
            finally:
                if not ended_well:
                    profile.discard()
            log.info("soffice: slot %d%s, %.2f s, status %s", profile.slot,
                     " (new profile)" if profile.fresh else "", time.monotonic() - started,
                     run.returncode)
            return verdict(run, timeout_s)
    except profiles.AllBusy:
        raise ConversionRetryable(BUSY, {"slots": profiles.SLOTS}) from None
