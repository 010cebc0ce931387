"""Drive mirror benchmark: memory, throughput and exactly-once of a 1 GiB file to Google Drive.

  rss_growth_mib         peak memory growth of the worker's whole process tree (the RQ worker,
                         its scheduler process and the work-horse forked per job) while it
                         mirrors one 1 GiB file, over the idle tree just before. Measured as
                         the sum of PSS (proportional set size): a forked work-horse shares
                         the parent's pages copy-on-write, and summing VmRSS would count them
                         twice. VmRSS sums and the horse's kernel high-water mark are emitted
                         alongside. Target <= 64 MiB.
  throughput_ratio       (bytes / seconds of the RQ mirror job) / (bytes / seconds of a plain
                         loopback download of the file's DOWNLOAD_URL to a temp file followed
                         by one raw resumable PUT of it to the fake Drive). Above 1 means the
                         streamed mirror beats the naive sequential copy.
  duplicates_after_kill  a second 1 GiB file; the worker's whole process tree is killed with
                         SIGKILL once about half its bytes reached the fake Drive, a new worker
                         is started at once and the job recovers; then (Drive files tagged
                         with that file's src appProperty) - 1. Target 0.
  kill_recovery_s        from that kill to the file on Drive: the dead worker's alive key
                         expires (10 s), the new worker's scheduler retries the job (RQ's
                         first retry interval, 10 s) and the copy runs again. Target < 60.

Only if the killed job ends up in the failed registry does the benchmark requeue it
(reported as `recovery`): that is a defect, never the way it is meant to recover.

The fake Drive runs as its own process (`python -m fakedrive`), so its buffers never count
towards anything; its blobs live in the stack's temp dir and are removed with it.

Run: .venv/bin/python -m bench.drive_mirror [--quick]     (--quick: 64 MiB files)
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bench.common import LOOPBACK, Stack, cpu_count, emit, load_average, running_stack
from bench.procs import is_ours, kill_tree, pss_kb, status, tree_pids
from devstack.processes import PY, base_env, free_port, spawn, stop, wait_for, worker_args
from fakedrive import app_env as fake_app_env

BENCH = "drive_mirror"
MIB = 1024 * 1024
FOLDER_MIME = "application/vnd.google-apps.folder"
SAMPLE_EVERY_S = 0.05


# the worker's process tree and its memory -------------------------------------------------
class TreeSampler:
    """Samples VmRSS and PSS of a process tree in a thread; keeps sums and peaks (kB)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.samples: list[tuple[float, int, int, int]] = []  # (t, rss_kb, pss_kb, procs)
        self.hwm_kb: dict[int, int] = {}  # per pid: the kernel's VmHWM, catches short spikes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def sample(self) -> tuple[float, int, int, int]:
        rss = pss = n = 0
        for pid in tree_pids(self.root):
            st = status(pid)
            if not st:
                continue
            rss += st.get("VmRSS", 0)
            pss += pss_kb(pid)
            n += 1
            self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), st.get("VmHWM", 0))
        row = (time.time(), rss, pss, n)
        self.samples.append(row)
        return row

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.sample()

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def window(self, t0: float, t1: float) -> list[tuple[float, int, int, int]]:
        return [s for s in self.samples if t0 <= s[0] <= t1]


# the fake Drive as a process of its own -------------------------------------------------------
class FakeDriveProcess:
    """`python -m fakedrive` on a free loopback port, its blobs under `tmpdir`."""

    def __init__(self) -> None:
        self.port = free_port()  # known before the stack starts: the app's env needs the URL
        self.tmpdir: Path | None = None
        self.log: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    def app_env(self) -> dict[str, str]:
        return fake_app_env(self.url, "bench-client.apps.test")

    def start(self, workdir: Path) -> None:
        """Run it with its blobs and log under `workdir` (the stack's temp dir)."""
        self.tmpdir, self.log = workdir / "fakedrive", workdir / "fakedrive.log"
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        env = base_env(TMPDIR=str(self.tmpdir))
        self.proc = spawn([PY, "-m", "fakedrive", "--host", LOOPBACK, "--port", str(self.port)],
                          env, self.log)
        wait_for(lambda: requests.get(self.url + "_fake/state", timeout=2).ok, 30, 0.1,
                 what="fake Drive up")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # KeyboardInterrupt: it removes its blobs
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop([self.proc])

    def state(self) -> dict[str, Any]:
        resp = requests.get(self.url + "_fake/state", timeout=30)
        resp.raise_for_status()
        return dict(resp.json())

    def tagged(self, src: str) -> list[dict[str, Any]]:
        return [f for f in self.state()["files"] if f.get("mimeType") != FOLDER_MIME
                and (f.get("appProperties") or {}).get("src") == src]

    def access_token(self) -> str:
        resp = requests.post(self.url + "_fake/tokens", json={}, timeout=10)
        resp.raise_for_status()
        return str(resp.json()["access_token"])


# the app side ---------------------------------------------------------------------------------
class App:
    """The app's services on the stack's Redis: settings, records, queues, Google link."""

    def __init__(self, stack: Stack, member_id: str) -> None:
        from connector.config import load_settings
        from wiring import build_services

        self.stack = stack
        self.member_id = member_id
        self.services = build_services(load_settings(stack.env))

    def close(self) -> None:
        self.services.redis.close()

    def connect_google(self) -> None:
        """The admin's path: signed link -> the fake's consent -> the app's callback."""
        from robots.drive_mirror import connection

        token = connection.connect_token(self.services, self.member_id)
        resp = requests.get(f"{self.stack.app_url}/google/connect?t={token}", timeout=30)
        if resp.status_code != 200:  # the page speaks the portal's language: ask the state
            raise RuntimeError(f"Google connect failed: HTTP {resp.status_code} "
                               f"{resp.text[:300]}")
        state = connection.status(self.services, self.member_id)["status"]
        if state != "connected":
            raise RuntimeError(f"Google connection status is {state!r}")

    def deal_folder(self, deal_id: int) -> int:
        from connector.context import JobContext
        from robots.deal_workspace.setup import Workspace

        ctx = JobContext.load(self.services, self.member_id, "bench", "deal_workspace")
        assert ctx is not None, "the portal is not installed"
        return int(Workspace(ctx.redis, ctx.key()).record(deal_id).get("folder_id") or 0)

    def busy(self) -> int:
        from rq.registry import ScheduledJobRegistry, StartedJobRegistry

        total = self.services.queues.inbox.waiting()  # deliveries not yet jobs
        for queue in self.services.queues.queues.values():
            total += queue.count + StartedJobRegistry(queue=queue).count
            total += ScheduledJobRegistry(queue=queue).count
        return total

    def wait_idle(self, timeout: float, settle_s: float = 1.0) -> None:
        deadline = time.monotonic() + timeout
        quiet_since = None
        while time.monotonic() < deadline:
            self.stack.control("GET", "deliveries?wait=5&since=999999999")
            if self.busy():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settle_s:
                return
            time.sleep(0.1)
        raise TimeoutError(f"the app's queues did not drain within {timeout:.0f}s")

    def file_jobs(self) -> list[Any]:
        """Jobs of the files queue that finished, oldest first."""
        from rq.job import Job
        from rq.registry import FinishedJobRegistry
        from rq.serializers import JSONSerializer

        queue = self.services.queues["files"]
        ids = FinishedJobRegistry(queue=queue).get_job_ids()
        jobs = [j for j in Job.fetch_many(ids, connection=self.services.redis,
                                          serializer=JSONSerializer) if j]
        return sorted(jobs, key=lambda j: j.started_at)


def job_source_key(job: Any) -> str:
    try:
        return str(job.args[2]["source"]["key"])
    except (IndexError, KeyError, TypeError):
        return ""


def touch(stack: Stack, deal_id: int, note: str) -> None:
    """A deal change: ONCRMDEALUPDATE makes the mirror scan the deal's files."""
    stack.control("POST", f"crm/deal/{deal_id}", {"fields": {"COMMENTS": note}})


def new_file(stack: Stack, folder_id: int, name: str, size: int, seed: int) -> dict[str, Any]:
    started = time.monotonic()
    info = dict(stack.control("POST", "disk/files", {
        "folder_id": folder_id, "name": name, "size": size, "seed": seed}, timeout=600))
    emit(BENCH, "disk_file", id=info["id"], name=name, size=info["size"], md5=info.get("md5"),
         seconds_to_create=round(time.monotonic() - started, 2))
    return info


def b24_tag(member_id: str, disk_id: int) -> str:
    """The `src` appProperty the mirror gives a Disk file's copy (robots/drive_mirror)."""
    return f"b24:{member_id[:16]}:disk:{disk_id}"


# the phases -----------------------------------------------------------------------------------
def mirror_one(stack: Stack, app: App, fake: FakeDriveProcess, worker: subprocess.Popen[bytes],
               deal_id: int, folder_id: int, size: int) -> dict[str, Any]:
    """Phase 1: memory and speed of one file's mirror by one worker."""
    sampler = TreeSampler(worker.pid)
    baseline = []
    for _ in range(10):  # one second of the idle tree
        baseline.append(sampler.sample())
        time.sleep(0.1)
    idle_root_kb = status(worker.pid).get("VmRSS", 0)
    info = new_file(stack, folder_id, "survey-photos.bin", size, seed=11)
    tag = b24_tag(app.member_id, int(info["id"]))
    sampler.start()
    t0 = time.time()
    try:
        touch(stack, deal_id, "photos added")
        wait_for(lambda: fake.tagged(tag), 900, 0.5, what="the file on the fake Drive")
        app.wait_idle(120)
    finally:
        sampler.stop()
    t1 = time.time()
    during = sampler.window(t0, t1)
    base_rss = statistics.median(s[1] for s in baseline)
    base_pss = statistics.median(s[2] for s in baseline)
    peak_rss = max(s[1] for s in during)
    peak_pss = max(s[2] for s in during)
    # the kernel's high-water mark of each child (horse, scheduler) over the idle worker's
    # RSS: an upper bound that no sampling gap can miss (it counts the shared pages too)
    child_hwm = max((kb for pid, kb in sampler.hwm_kb.items() if pid != worker.pid), default=0)
    job = next(j for j in reversed(app.file_jobs()) if job_source_key(j) == f"disk:{info['id']}")
    seconds = (job.ended_at - job.started_at).total_seconds()
    (on_drive,) = fake.tagged(tag)
    md5_ok = on_drive.get("md5Checksum") == info.get("md5")
    emit(BENCH, "memory", samples=len(during), sample_every_ms=SAMPLE_EVERY_S * 1000,
         baseline_pss_mib=round(base_pss / 1024, 1), peak_pss_mib=round(peak_pss / 1024, 1),
         pss_growth_mib=round((peak_pss - base_pss) / 1024, 1),
         baseline_vmrss_sum_mib=round(base_rss / 1024, 1),
         peak_vmrss_sum_mib=round(peak_rss / 1024, 1),
         vmrss_sum_growth_mib=round((peak_rss - base_rss) / 1024, 1),
         idle_worker_vmrss_mib=round(idle_root_kb / 1024, 1),
         child_vmhwm_mib=round(child_hwm / 1024, 1),
         child_vmhwm_over_idle_worker_mib=round((child_hwm - idle_root_kb) / 1024, 1),
         max_processes=max(s[3] for s in during))
    emit(BENCH, "mirror", bytes=size, job_seconds=round(seconds, 3),
         mib_per_s=round(size / MIB / seconds, 1), drive_id=on_drive["id"],
         drive_md5=on_drive.get("md5Checksum"), emulator_md5=info.get("md5"), md5_equal=md5_ok,
         drive_size=int(on_drive.get("size") or -1))
    if not md5_ok:
        raise RuntimeError("the mirrored file's MD5 differs from the emulator's")
    return {"rss_growth_mib": round((peak_pss - base_pss) / 1024, 1),
            "mirror_bytes_per_s": size / seconds, "disk_id": int(info["id"]), "md5_ok": md5_ok}


def plain_copy(stack: Stack, fake: FakeDriveProcess, disk_id: int, size: int) -> dict[str, Any]:
    """The naive baseline: download to a temp file, then one resumable PUT of it."""
    url = stack.control("GET", f"disk/files/{disk_id}?md5=0")["download_url"]
    path = stack.workdir / "plain-copy.bin"
    t0 = time.monotonic()
    with requests.get(url, stream=True, timeout=60) as resp, path.open("wb") as out:
        resp.raise_for_status()
        for piece in resp.iter_content(MIB):
            out.write(piece)
    t1 = time.monotonic()
    got = path.stat().st_size
    if got != size:
        raise RuntimeError(f"plain download got {got} bytes, expected {size}")
    headers = {"Authorization": f"Bearer {fake.access_token()}"}
    start = requests.post(fake.url + "upload/drive/v3/files?uploadType=resumable"
                          "&fields=id,size,md5Checksum",
                          json={"name": "plain-copy.bin"}, timeout=30,
                          headers={**headers, "X-Upload-Content-Length": str(size),
                                   "X-Upload-Content-Type": "application/octet-stream"})
    start.raise_for_status()
    with path.open("rb") as body:
        put = requests.put(start.headers["Location"], data=body, timeout=600,
                           headers={**headers, "Content-Length": str(size),
                                    "Content-Range": f"bytes 0-{size - 1}/{size}"})
    put.raise_for_status()
    t2 = time.monotonic()
    path.unlink()
    seconds = t2 - t0
    emit(BENCH, "plain_copy", bytes=size, download_s=round(t1 - t0, 3),
         upload_s=round(t2 - t1, 3), total_s=round(seconds, 3),
         mib_per_s=round(size / MIB / seconds, 1), drive_size=int(put.json().get("size", -1)),
         drive_md5=put.json().get("md5Checksum"))
    return {"plain_bytes_per_s": size / seconds}


def kill_and_recover(stack: Stack, app: App, fake: FakeDriveProcess,
                     worker: subprocess.Popen[bytes], deal_id: int, folder_id: int, size: int
                     ) -> tuple[dict[str, Any], subprocess.Popen[bytes]]:
    """Phase 3: kill -9 at ~50% of the bytes on the fake, restart, count Drive copies."""
    info = new_file(stack, folder_id, "warranty-video.bin", size, seed=23)
    tag = b24_tag(app.member_id, int(info["id"]))
    touch(stack, deal_id, "video added")

    def half_way() -> dict[str, Any] | None:
        for sid, s in fake.state()["sessions"].items():
            if s.get("total") == size and not s.get("done") and s["received"] >= size // 2:
                return {"session": sid, **s}
        return None

    progress = wait_for(half_way, 900, 0.05, what="half of the second file on the fake Drive")
    killed = kill_tree(worker.pid)
    worker.wait(timeout=10)
    killed_at = time.time()
    emit(BENCH, "killed", pids=killed, session=progress["session"],
         received=progress["received"], total=size,
         fraction=round(progress["received"] / size, 3))
    log = stack.workdir / "worker-2.log"  # a supervisor restarts the worker at once
    stack.logs["worker-2"] = log
    new_worker = spawn(worker_args("--sweep-check-every", "3600"), stack.env, log)
    recovery = "the dead worker's alive key expired -> the scheduler's reaper -> RQ retry"

    def done() -> bool:
        nonlocal recovery
        if app.services.queues.failed() and "requeue" not in recovery:
            moved = app.services.queues.requeue_failed()
            recovery = f"abandoned job landed in the failed registry; requeued {moved}"
        return bool(fake.tagged(tag)) and not app.busy()

    wait_for(done, 900, 0.5, what="the second file mirrored after the restart")
    recovery_s = time.time() - killed_at
    app.wait_idle(120)
    copies = fake.tagged(tag)
    md5_ok = all(c.get("md5Checksum") == info.get("md5") for c in copies)
    sessions = fake.state()["sessions"].values()
    job = next((j for j in reversed(app.file_jobs())
                if job_source_key(j) == f"disk:{info['id']}"), None)
    emit(BENCH, "after_kill", recovery=recovery, drive_copies=len(copies),
         drive_ids=[c["id"] for c in copies], md5_equal=md5_ok,
         recovery_s=round(recovery_s, 1),
         abandoned_upload_sessions=sum(1 for s in sessions if not s.get("done")),
         failed_jobs=len(app.services.queues.failed()),
         job_retries_left=None if job is None else job.retries_left)
    if not md5_ok:
        raise RuntimeError("a mirrored copy's MD5 differs from the emulator's")
    return {"duplicates_after_kill": len(copies) - 1, "md5_ok": md5_ok,
            "kill_recovery_s": round(recovery_s, 1)}, new_worker


def run(quick: bool) -> dict[str, Any]:
    size = 64 * MIB if quick else 1024 * MIB
    out: dict[str, Any] = {}
    fake = FakeDriveProcess()
    with running_stack(env_overrides=fake.app_env()) as stack:
        workers: list[subprocess.Popen[bytes]] = []
        app: App | None = None
        try:
            fake.start(stack.workdir)
            member_id = stack.install()["member_id"]
            app = App(stack, member_id)
            app.services.portal_settings.put(member_id, {
                "deal_folders": {"enabled": True}, "drive_mirror": {"enabled": True},
                "events": {"offline_backup": False}})
            app.connect_google()
            log = stack.workdir / "worker.log"
            stack.logs["worker"] = log
            workers.append(spawn(worker_args("--sweep-check-every", "3600"), stack.env, log))
            emit(BENCH, "environment", cpus=cpu_count(), load_1m=load_average(),
                 file_mib=size // MIB)
            deal_id = int(stack.control("POST", "crm/deal", {"fields": {
                "TITLE": "Car repair: Volvo XC90", "ASSIGNED_BY_ID": 1}})["id"])
            folder_id = wait_for(lambda: app.deal_folder(deal_id), 60, 0.1,
                                 what="the deal's Disk folder")
            app.wait_idle(120)
            first = mirror_one(stack, app, fake, workers[0], deal_id, folder_id, size)
            out["rss_growth_mib"] = first["rss_growth_mib"]
            plain = plain_copy(stack, fake, first["disk_id"], size)
            out["throughput_ratio"] = round(first["mirror_bytes_per_s"]
                                            / plain["plain_bytes_per_s"], 3)
            out["mirror_mib_per_s"] = round(first["mirror_bytes_per_s"] / MIB, 1)
            out["plain_mib_per_s"] = round(plain["plain_bytes_per_s"] / MIB, 1)
            killed, new_worker = kill_and_recover(stack, app, fake, workers[0], deal_id,
                                                  folder_id, size)
            workers.append(new_worker)
            out["duplicates_after_kill"] = killed["duplicates_after_kill"]
            out["kill_recovery_s"] = killed["kill_recovery_s"]
            out["md5_equal"] = first["md5_ok"] and killed["md5_ok"]
        except Exception:
            for name in ("worker", "worker-2"):
                tail = stack.log_tail(name, 40)
                if tail:
                    print(f"--- {name} log ---\n{tail}", flush=True)
            raise
        finally:
            for w in workers:
                if w.poll() is None:
                    children = tree_pids(w.pid)[1:]
                    stop([w])
                    for pid in children:  # a horse a stopped worker left behind
                        if is_ours(pid):
                            os.kill(pid, signal.SIGKILL)
            if app is not None:
                app.close()
            fake.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.drive_mirror")
    parser.add_argument("--quick", action="store_true", help="64 MiB files instead of 1 GiB")
    args = parser.parse_args()
    emit(BENCH, "summary", **run(args.quick))


if __name__ == "__main__":
    main()
