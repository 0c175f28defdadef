"""Benchmark the app as a user meets it: cold start, switching, and map payload.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/app.py``); needs Debian's chromium
(``make test`` installs it). Appends a dated section to benchmarks/RESULTS.md.

- Cold start: from launching the server as ``make run`` does (``python -m views.serve``:
  ``streamlit run app.py`` that loads the default area meanwhile) to the coverage map's
  vector layers drawn in headless chromium (targets: under 15 s). Measured twice: with an
  empty temporary folder (the first start on a file: pyrosm 0.25's result cache under
  ``<tempdir>/pyrosm`` is cold), and a restart after it (that cache warm). Then a viewer
  who opens the page 30 s after the server started (a meeting room's server started
  ahead): the time from opening the page to the map.
- Switching category and walking profile: from the click on the choice to the headline
  number and the map showing the change (the legend retitled for a category; the homes
  recoloured at the new walking speed for a profile) (target: under 1 s).
- A click on the map (gaps view) that adds a station: from the click to the scenario's
  effect on the page and the station drawn on the map, timed in the page (target: under
  1 s).
- Run on another area with ``SERVICE_CIRCLE_SOURCE=path.osm.pbf`` (as the app).
- Map payload: what the app sends for its first coverage map (the map with streets and
  homes, then the category's layers; shapes as encoded polylines, only Leaflet loaded)
  and for a switch of category, against the usual approach, ``GeoDataFrame.explore()``
  of the same homes (target: under 5 MB).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
#: The study area, as for the app: SERVICE_CIRCLE_SOURCE=path/to/area.osm.pbf (e.g. Malta).
SOURCE = os.environ.get("SERVICE_CIRCLE_SOURCE", "default")
#: How long after the server's start the meeting's first viewer comes (seconds).
VIEWER_AFTER_S = 30.0
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def payload() -> tuple[int, int, int]:
    """Return the bytes the app sends for its first coverage map, a category switch, and
    ``GeoDataFrame.explore()`` of the same homes (the usual approach)."""
    from gis.analysis.coverage import category_circle, compute_coverage, households_served
    from gis.settings import load_settings
    from gis.study import load_study
    from layers.base import map_parts, overlay_script
    from layers.coverage import category_layers, coverage_base_map

    settings = load_settings()
    study = load_study(None if SOURCE == "default" else SOURCE, settings)
    result = compute_coverage(study.access(), study.facilities, settings)
    base = map_parts(coverage_base_map(result, settings, streets=study.streets))
    circle = category_circle(study.access(), study.facilities, "health",
                             result.thresholds["health"].metres, settings)
    layers = overlay_script(category_layers(result, "health", settings, circle=circle,
                                            served=households_served(result, "health")))
    first = len((base.script + base.html + base.header + layers).encode("utf-8"))
    homes = result.homes.to_crs("EPSG:4326")
    usual = len(homes[[homes.geometry.name, "households", "time_min_health"]]
                .explore().get_root().render().encode("utf-8"))
    return first, len(layers.encode("utf-8")), usual


def street_point() -> tuple[float, float]:
    """Return (lon, lat) of the middle of the study area's longest street."""
    import geopandas as gpd

    from gis.settings import WGS84, load_settings
    from gis.study import load_study

    streets = load_study(None if SOURCE == "default" else SOURCE, load_settings()).streets
    mid = streets.geometry.loc[streets.geometry.length.idxmax()].interpolate(
        0.5, normalized=True)
    p = gpd.GeoSeries([mid], crs=streets.crs).to_crs(WGS84).iloc[0]
    return float(p.x), float(p.y)


def browser_timings(tmpdir: str, *, start_only: bool = False,
                    viewer_after_s: float = 0.0) -> dict[str, float]:
    """Time the cold start (and, unless ``start_only``, the interactions) of a server whose
    temporary folder is ``tmpdir``; with ``viewer_after_s``, the first viewer opens the
    page that long after the server started, and the time runs from the page's opening."""
    from playwright.sync_api import sync_playwright

    lon, lat = street_point()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "views.serve", "--server.headless", "true",
                             "--server.port", str(port), "--browser.gatherUsageStats", "false"],
                            cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, TMPDIR=tmpdir))
    out = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            if viewer_after_s:
                time.sleep(viewer_after_s)
                t0 = time.perf_counter()
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}", timeout=2000)
                    break
                except Exception:  # server not listening yet
                    if time.perf_counter() - t0 > 120:
                        raise
                    time.sleep(0.2)
            frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
            frame.locator(".leaflet-overlay-pane path, .leaflet-overlay-pane canvas").first \
                .wait_for(timeout=120_000)
            out["cold start to rendered map"] = time.perf_counter() - t0
            if start_only:
                browser.close()
                return out

            # Watchers run in the page (every animation frame, Date.now() on both sides of
            # the iframe): polling from Python took 0.1-0.3 s a look on a busy machine.
            watch = """([sel, key]) => { const el = document.querySelector(sel);
              const before = el ? el.innerText : null; window[key] = null;
              const tick = () => { const e = document.querySelector(sel);
                if (e && e.innerText !== before) { window[key] = Date.now(); }
                else { requestAnimationFrame(tick); } };
              requestAnimationFrame(tick); }"""
            clicked = """() => { window.__clicked = null; document.addEventListener("click",
              () => { window.__clicked = Date.now(); }, {capture: true, once: true}); }"""

            def inner_frame():
                return page.locator('iframe[title="streamlit_folium.st_folium"]').first \
                    .element_handle().content_frame()

            speed = """(key) => { const s = () => window.scHomes
                ? JSON.stringify(window.scHomes.speed) : null;
              const before = s(); window[key] = null;
              const tick = () => { if (s() !== before) { window[key] = Date.now(); }
                else { requestAnimationFrame(tick); } };
              requestAnimationFrame(tick); }"""

            def timed_change(action, prepare=None, *, profile: bool = False) -> float:
                """Time from ``action`` to the number and the map showing the change.

                Timed in the page, from the click to the later of the number and the drawn
                map changing: a category switch retitles the map's legend, a walking
                profile gives the homes a new speed (they are recoloured in the same step).
                """
                if prepare is not None:
                    prepare()
                inner = inner_frame()
                page.evaluate(watch, ["[data-testid=stMetricValue]", "__number"])
                if profile:
                    inner.evaluate(speed, "__map")
                else:
                    inner.evaluate(watch, [".sc-legend-title", "__map"])
                page.evaluate(clicked)
                action()
                page.wait_for_function("() => window.__number !== null", timeout=30_000)
                inner.wait_for_function("() => window.__map !== null", timeout=30_000)
                done = max(page.evaluate("() => window.__number"),
                           inner.evaluate("() => window.__map"))
                return (done - page.evaluate("() => window.__clicked")) / 1000

            def open_list():
                page.get_by_role("combobox", name="服务类别").click()

            out["switch category (first time: computes the circle)"] = timed_change(
                lambda: page.get_by_role("option", name="医疗卫生").click(), open_list)
            out["switch category"] = timed_change(
                lambda: page.get_by_role("option", name="日常购物").click(), open_list)
            out["switch back to a category seen before"] = timed_change(
                lambda: page.get_by_role("option", name="医疗卫生").click(), open_list)
            out["switch walking profile (threshold in metres changes)"] = timed_change(
                lambda: page.get_by_text("老年人（60 米/分）").click(), profile=True)
            # Gaps view: a click on the map adds a station; time to its effect on screen.
            page.get_by_text("缺口与选址").first.click()
            visible = 'iframe[title="streamlit_folium.st_folium"] >> visible=true'
            page.locator(visible).first.wait_for(timeout=120_000)
            page.get_by_text("添加站点", exact=True).first.click()
            time.sleep(3)
            # On a street (the middle of the longest one), placed by Leaflet: a click far
            # from every street is refused by design and would time nothing.
            inner = page.locator(visible).first.element_handle().content_frame()
            inner.evaluate("([lat, lon]) => { window.map.setView([lat, lon], 17); }", [lat, lon])
            time.sleep(1)
            at = inner.evaluate("([lat, lon]) => { const p = window.map"
                                ".latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
                                [lat, lon])
            box = page.locator(visible).first.bounding_box()
            # Timed in the page as the switches are: from the click (in the map's frame)
            # to the later of the scenario's effect on the page and the added station
            # drawn on the map.
            inner.evaluate("""() => { window.__clicked = null; window.__added = null;
              document.addEventListener("click", () => { window.__clicked = Date.now(); },
                                        {capture: true, once: true});
              const tick = () => { if (window.scEntries && window.scEntries.added) {
                  window.__added = Date.now(); } else { requestAnimationFrame(tick); } };
              requestAnimationFrame(tick); }""")
            page.evaluate("""() => { window.__effect = null;
              const tick = () => { if (document.body.innerText.includes("方案总效果")) {
                  window.__effect = Date.now(); } else { requestAnimationFrame(tick); } };
              requestAnimationFrame(tick); }""")
            page.mouse.click(box["x"] + at[0], box["y"] + at[1])
            try:
                page.wait_for_function("() => window.__effect !== null", timeout=60_000)
                inner.wait_for_function("() => window.__added !== null", timeout=30_000)
                done = max(page.evaluate("() => window.__effect"),
                           inner.evaluate("() => window.__added"))
                out["click on the map adds a station (to its effect shown)"] = \
                    (done - inner.evaluate("() => window.__clicked")) / 1000
            except Exception:  # the click fell far from every street: refused, not timed
                out["click on the map adds a station (refused: no street there)"] = \
                    float("nan")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return out


def main() -> None:
    ours, switch, usual = payload()
    with tempfile.TemporaryDirectory() as cold:
        timings = browser_timings(cold)
        restart = browser_timings(cold, start_only=True)["cold start to rendered map"]
        later = browser_timings(cold, start_only=True, viewer_after_s=VIEWER_AFTER_S)[
            "cold start to rendered map"]
    first = timings.pop("cold start to rendered map")
    timings = {"cold start to rendered map, first start on the file (pyrosm's cache "
               "empty)": first,
               "cold start to rendered map, server restarted (pyrosm's cache warm)": restart,
               f"first map for a viewer who comes {VIEWER_AFTER_S:.0f} s after the server "
               "started (`make run` loads the area and draws its map meanwhile)": later,
               **timings}
    lines = [f"## App, {dt.datetime.now():%Y-%m-%d %H:%M}", "",
             f"Command: `python benchmarks/app.py`. Machine: {os.cpu_count()} cores, Python "
             f"{platform.python_version()}, headless Debian chromium.", "",
             "| measure | value |", "| --- | ---: |"]
    for name, sec in timings.items():
        lines.append(f"| {name} | {sec:.2f} s |")
    lines.append(f"| map payload, this app ({SOURCE}, health: the map and its category) | "
                 f"{ours / 1e6:.2f} MB |")
    lines.append(f"| sent on a switch of category (health's layers) | {switch / 1e6:.2f} MB |")
    lines.append(f"| map payload, GeoDataFrame.explore() of the same homes | "
                 f"{usual / 1e6:.2f} MB |")
    report = "\n".join(lines) + "\n"
    print(report)
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write(report + "\n")


if __name__ == "__main__":
    main()
