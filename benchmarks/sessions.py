"""Benchmark many users at once, bombs against a live server, and the fuzz corpus.

Run: ``.venv/bin/python benchmarks/sessions.py`` (needs Debian's chromium, which
``make test`` installs; loopback only). Appends a dated section to benchmarks/RESULTS.md.

1. One server as ``make run`` starts it (``python -m views.serve``) on the default area.
   A single session alone: time from opening the page to the coverage map's vector
   layers drawn, then four interactions (category three times, walking profile once),
   each timed from the click to the headline number changing.
2. Ten sessions at once (ten browser contexts of one headless chromium, started
   together), each doing the same. Goals: 0 failed sessions, 0 server exceptions, first
   map within 2x of the single session's, interactions within 2x of its median.
3. Bombs uploaded into one session while another keeps working: a .osm.bz2 of 25 KB that
   expands to 10 GB and a zip of 4 MB holding 10 million points. Reported: the refusal
   shown, the server's peak memory during each (sampled every 50 ms), and the other
   session's interaction time meanwhile.
4. The fuzz corpus of tests/fuzz_corpus.py through the loaders: outcomes tallied (goal: 0
   raw tracebacks).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAP = 'iframe[title="streamlit_folium.st_folium"] >> visible=true'
SESSIONS = int(os.environ.get("SESSIONS", "10"))
CATEGORIES = ("医疗卫生", "日常购物", "社区服务")


class Memory:
    """Sample a process's resident memory every 50 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _rss_mb(self) -> float:
        total = 0.0
        for pid in [self.pid, *self._children()]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
            except OSError:
                continue
        return total

    def _children(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self._rss_mb()))
            time.sleep(0.05)

    def peak(self, start: float, end: float) -> float:
        inside = [mb for t, mb in self.samples if start <= t <= end]
        return max(inside) if inside else float("nan")

    def at(self, moment: float) -> float:
        before = [mb for t, mb in self.samples if t <= moment]
        return before[-1] if before else float("nan")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def start_server(log: Path, tmp: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, SERVICE_CIRCLE_SOURCE="default", TMPDIR=str(tmp),
               SERVICE_CIRCLE_PROJECT=str(tmp / "project.gpkg"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "views.serve", "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
        stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    msg = "the app did not start within 120 s"
    raise RuntimeError(msg)


async def one_session(browser, url: str, n: int) -> dict:
    """Open the app, wait for the map, switch category and profile; return timings."""
    out: dict = {"session": n, "failed": None, "first_map_s": None, "interactions": []}
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    try:
        start = time.perf_counter()
        await page.goto(url, timeout=180_000)
        frame = page.frame_locator(MAP).first
        await frame.locator(".leaflet-overlay-pane path, .leaflet-overlay-pane canvas") \
            .first.wait_for(timeout=180_000)
        out["first_map_s"] = time.perf_counter() - start
        metric = page.locator("[data-testid=stMetricValue]").first
        await idle(page)
        for k, name in enumerate(CATEGORIES[n % 3:] + CATEGORIES[: n % 3]):
            if k == 0 and name == "社区服务":
                continue  # already shown
            before = await metric.inner_text()
            await page.get_by_role("combobox", name="服务类别").click()
            t = time.perf_counter()
            await page.get_by_role("option", name=name).click()
            await changed(metric, before)
            out["interactions"].append(time.perf_counter() - t)
            await idle(page)
        before = await metric.inner_text()
        t = time.perf_counter()
        await page.get_by_text("老年人（60 米/分）").click()
        await changed(metric, before)
        out["interactions"].append(time.perf_counter() - t)
        await idle(page)
        body = await page.inner_text("body")
        if "Traceback" in body or await page.locator("[data-testid=stException]").count():
            out["failed"] = "an exception is shown"
        else:
            try:  # the map's iframe may still be loading its new content
                await page.frame_locator(MAP).first.locator(
                    ".leaflet-overlay-pane path, .leaflet-overlay-pane canvas").first \
                    .wait_for(timeout=60_000)
            except Exception:  # noqa: BLE001 - reported as a failure
                out["failed"] = "the map is blank 60 s after the interactions"
    except Exception as err:  # noqa: BLE001 - a failed session is a result
        out["failed"] = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
    finally:
        await context.close()
    return out


async def idle(page) -> None:
    await page.wait_for_timeout(200)
    await page.locator("[data-testid=stStatusWidget]").wait_for(state="hidden",
                                                                timeout=180_000)


async def changed(metric, before: str, limit_s: float = 120) -> None:
    """Wait for the headline number to change, polled inside the page (no round trips:
    ten sessions polling over the wire every 20 ms cost the shared cores ~1 s/s)."""
    from playwright.async_api import expect

    try:
        await expect(metric).not_to_have_text(before, timeout=limit_s * 1000)
    except AssertionError as err:
        msg = f"the headline number did not change within {limit_s:.0f} s"
        raise TimeoutError(msg) from err


async def bombs(browser, url: str, memory: Memory, folder: Path) -> list[dict]:
    """Upload each bomb in one session while another switches category; return figures."""
    from tests.test_limits import write_bz2_bomb, write_points_zip

    files = [("area", write_bz2_bomb(folder / "bomb.osm.bz2")),
             ("facilities", write_points_zip(folder / "points.zip"))]
    rows = []
    for which, path in files:
        uploader = await browser.new_context(viewport={"width": 1400, "height": 1000})
        other = await browser.new_context(viewport={"width": 1400, "height": 1000})
        up_page, other_page = await uploader.new_page(), await other.new_page()
        for page in (up_page, other_page):
            await page.goto(url)
            await page.frame_locator(MAP).first.locator(
                ".leaflet-overlay-pane path, .leaflet-overlay-pane canvas").first.wait_for(
                timeout=180_000)
            await idle(page)
        index = 0 if which == "area" else 1
        base = memory.at(time.perf_counter())
        start = time.perf_counter()
        await up_page.locator("[data-testid=stSidebar] input[type=file]").nth(index) \
            .set_input_files(path)
        metric = other_page.locator("[data-testid=stMetricValue]").first
        before = await metric.inner_text()
        await other_page.get_by_role("combobox", name="服务类别").click()
        t = time.perf_counter()
        await other_page.get_by_role("option", name="医疗卫生").click()
        try:
            await changed(metric, before)
            other_s = time.perf_counter() - t
        except TimeoutError:
            other_s = float("nan")
        refused = True
        try:
            await up_page.get_by_text("已拒绝").first.wait_for(timeout=120_000)
        except Exception:  # noqa: BLE001 - reported as not refused
            refused = False
        end = time.perf_counter()
        await asyncio.sleep(0.5)
        rows.append({"file": f"{path.name} ({path.stat().st_size / 1e6:.2f} MB)",
                     "refused": refused, "seconds": end - start,
                     "peak_mb": memory.peak(start, time.perf_counter()), "base_mb": base,
                     "other_s": other_s})
        await uploader.close()
        await other.close()
    return rows


def fuzz_tally() -> collections.Counter:
    from tests.fuzz_corpus import corpus, run_case

    tally: collections.Counter = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(corpus()):
            outcome, _detail, _path = run_case(case, Path(tmp) / str(i))
            tally[outcome] += 1
    return tally


def server_exceptions(log: Path) -> list[str]:
    text = log.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.splitlines()
            if "Traceback" in line or line.startswith(("RuntimeError", "Exception"))
            or "Error:" in line and "Uncaught" not in line]


async def run(url: str, memory: Memory, folder: Path, server_pid: int) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=FLAGS)
        cpu_alone = cpu_seconds(server_pid)
        alone = await one_session(browser, url, 0)
        cpu_alone = {k: v - cpu_alone[k] for k, v in cpu_seconds(server_pid).items()}
        cpu_before = cpu_seconds(server_pid)
        crowd = await asyncio.gather(*[one_session(browser, url, n)
                                       for n in range(SESSIONS)])
        cpu_after = cpu_seconds(server_pid)
        bomb_rows = await bombs(browser, url, memory, folder)
        await browser.close()
    return {"alone": alone, "crowd": crowd, "bombs": bomb_rows, "cpu_alone": cpu_alone,
            "cpu": {k: cpu_after[k] - cpu_before[k] for k in cpu_after}}


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """Return CPU seconds used so far by the app's server and by every chromium process."""
    import psutil

    server = sum(psutil.Process(server_pid).cpu_times()[:2])
    browsers = 0.0
    for proc in psutil.process_iter(["name"]):
        if "chrom" in (proc.info["name"] or "").lower():
            try:
                browsers += sum(proc.cpu_times()[:2])
            except psutil.Error:
                continue
    return {"server": server, "browsers": browsers}


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="sessions-bench-"))
    log = folder / "server.log"
    proc, url = start_server(log, folder)
    memory = Memory(proc.pid)
    try:
        found = asyncio.run(run(url, memory, folder, proc.pid))
    finally:
        memory.stop()
        proc.terminate()
        proc.wait(timeout=30)
    tally = fuzz_tally()
    errors = server_exceptions(log)
    alone, crowd = found["alone"], found["crowd"]
    ok = [s for s in crowd if s["failed"] is None]
    failed = [s for s in crowd if s["failed"] is not None]
    single_first = alone["first_map_s"] or float("nan")
    single_median = statistics.median(alone["interactions"]) if alone["interactions"] \
        else float("nan")
    firsts = [s["first_map_s"] for s in ok]
    inter = [x for s in ok for x in s["interactions"]]
    first_med = statistics.median(firsts) if firsts else float("nan")
    first_max = max(firsts) if firsts else float("nan")
    inter_med = statistics.median(inter) if inter else float("nan")
    inter_max = max(inter) if inter else float("nan")
    lines = [
        f"## Sessions, {dt.datetime.now():%Y-%m-%d %H:%M}", "",
        f"Command: `.venv/bin/python benchmarks/sessions.py`. Machine: {os.cpu_count()} "
        f"cores, Python {platform.python_version()}; one `python -m views.serve` on the "
        f"default area, {SESSIONS} browser contexts of one headless Debian chromium on the "
        "same machine (loopback).", "",
        "| measure | one session alone | "
        f"{SESSIONS} sessions at once | goal |", "| --- | ---: | ---: | --- |",
        f"| failed sessions | {0 if alone['failed'] is None else 1} | {len(failed)} | 0 |",
        f"| first map drawn (median / worst) | {single_first:.1f} s | {first_med:.1f} s / "
        f"{first_max:.1f} s | within 2x: "
        f"{'yes' if first_med <= 2 * single_first else 'no'} |",
        f"| interaction to the number changing (median / worst) | {single_median:.2f} s | "
        f"{inter_med:.2f} s / {inter_max:.2f} s | within 2x: "
        f"{'yes' if inter_med <= 2 * single_median else 'no'} |",
        f"| server exceptions in its log | - | {len(errors)} | 0 |", "",
        f"CPU used while the {SESSIONS} sessions ran: app server "
        f"{found['cpu']['server']:.1f} s ({found['cpu']['server'] / SESSIONS:.2f} s a "
        f"session; the session alone (cold caches): {found['cpu_alone']['server']:.2f} s), "
        f"the browsers drawing the pages {found['cpu']['browsers']:.1f} s (alone: "
        f"{found['cpu_alone']['browsers']:.1f} s), all on the same {os.cpu_count()} cores: "
        "in a meeting each browser runs on its own computer.", ""]
    for s in failed:
        lines.append(f"- session {s['session']} failed: {s['failed']}")
    for line in errors[:5]:
        lines.append(f"- server log: `{line[:160]}`")
    lines += ["", "Bombs uploaded while another session works:", "",
              "| file | refused with a message | time to the message | server memory "
              "before | peak | other session's switch meanwhile |",
              "| --- | --- | ---: | ---: | ---: | ---: |"]
    for b in found["bombs"]:
        lines.append(f"| {b['file']} | {'yes' if b['refused'] else 'NO'} | "
                     f"{b['seconds']:.1f} s | {b['base_mb']:.0f} MB | {b['peak_mb']:.0f} MB | "
                     f"{b['other_s']:.2f} s |")
    total = sum(tally.values())
    lines += ["", f"Fuzz corpus (tests/fuzz_corpus.py, {total} inputs): "
              + ", ".join(f"{k} {v}" for k, v in sorted(tally.items()))
              + f"; raw tracebacks {tally.get('traceback', 0)} (goal 0).", ""]
    report = "\n".join(lines) + "\n"
    print(report)
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write("\n" + report)


if __name__ == "__main__":
    main()
