"""The app in a real browser, started as ``make run`` does, driven by Playwright in chromium.

The test starts the app on a free port, waits for the map's vector layers, toggles a
layer, switches the language, adds a station by clicking the map in the gaps view, and
saves screenshots to tests/artifacts/. Chromium is installed by ``make test``; without it
the test is skipped with the reason (and fails under CI, where it must run).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        pytest.fail("chromium is missing under CI; `make test` installs Debian's chromium",
                    pytrace=False)
    pytest.skip("Debian's chromium is not installed (make test installs it)",
                allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVER: dict[str, object] = {}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = _free_port()
    tmp = tmp_path_factory.mktemp("server_tmp")
    env = dict(os.environ, SERVICE_CIRCLE_PROJECT=str(tmp_path_factory.mktemp("p") / "p.gpkg"),
               TMPDIR=str(tmp))
    SERVER["tmp"] = tmp
    proc = subprocess.Popen(
        [sys.executable, "-m", "views.serve", "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    SERVER["pid"] = proc.pid
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the app did not start within 90 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


MAP = 'iframe[title="streamlit_folium.st_folium"] >> visible=true'


def _open(p, url: str):
    """Launch chromium, open the app and wait for its first numbers; return both."""
    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.wait_for_selector("[data-testid=stMetric]", timeout=90_000)
    return browser, page


def _idle(page):
    """Wait until the app's script run has finished (Streamlit's running indicator)."""
    page.wait_for_timeout(300)
    page.locator("[data-testid=stStatusWidget]").wait_for(state="hidden", timeout=90_000)


def _map_frame(page):
    # While a view changes, Streamlit keeps the previous view's map element for a moment
    # (hidden, width -1): take the visible one.
    page.wait_for_selector(MAP, timeout=90_000)
    return page.frame_locator(MAP).first


def _street_point() -> tuple[float, float]:
    """Return (lon, lat) of the middle of the default area's longest named street."""
    from gis.settings import WGS84, load_settings
    from gis.study import load_study

    streets = load_study(None, load_settings()).streets
    longest = streets.loc[streets.geometry.length.idxmax()].geometry
    mid = longest.interpolate(0.5, normalized=True)
    import geopandas as gpd

    point = gpd.GeoSeries([mid], crs=streets.crs).to_crs(WGS84).iloc[0]
    return point.x, point.y


def test_map_layers_language_and_click_to_add_a_station(app_url):
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser, page = _open(p, app_url)
        frame = _map_frame(page)
        # Vector layers drawn by Leaflet (homes, circle): SVG paths or a canvas.
        frame.locator(".leaflet-overlay-pane path, .leaflet-overlay-pane canvas").first \
            .wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "coverage_zh.png"))
        # Toggle the homes layer off in the layer control.
        toggle = frame.locator(".leaflet-control-layers-overlays label", has_text="住宅建筑")
        toggle.locator("input").uncheck()
        assert not toggle.locator("input").is_checked()
        # Switch the language: the title changes.
        page.get_by_text("English", exact=True).click()
        page.get_by_text("Ten-minute life service circle").wait_for(timeout=60_000)
        # Gaps view: turn on click-to-add and click the map.
        page.get_by_text("Gaps and siting", exact=True).click()
        page.get_by_text("adds a station", exact=True).click()
        frame = _map_frame(page)
        frame.locator(".leaflet-overlay-pane path, .leaflet-overlay-pane canvas").first \
            .wait_for(timeout=60_000)
        # Click on a street (a fixed pixel may fall far from every street, and such a
        # click is refused by design): the middle of the longest street, placed by Leaflet.
        lon, lat = _street_point()
        point = page.locator(MAP).first.element_handle().content_frame().evaluate(
            "([lat, lon]) => { for (const k in window) { if (k.startsWith('map_') && "
            "window[k].latLngToContainerPoint) { const p = window[k].latLngToContainerPoint("
            "[lat, lon]); return {x: p.x, y: p.y}; } } }", [lat, lon])
        frame.locator(".leaflet-container").click(position=point)
        page.get_by_text("Whole scenario").wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "gaps_station_added_en.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "gaps_station_added_en.png").stat().st_size > 10_000


def test_switching_the_language_back_and_forth_keeps_every_choice(app_url):
    # Before: radios showed nothing selected after a switch, the category box stayed in
    # the other language, and 中文 -> English -> 中文 ended in "SettingsError: Unknown
    # walking profile '老年人（60 米/分）'" (3 of 3 tries).
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser, page = _open(p, app_url)
        page.get_by_text("老年人（60 米/分）", exact=True).click()
        page.get_by_text("缺口与选址", exact=True).click()
        page.get_by_text("新站点数量").wait_for(timeout=60_000)
        _idle(page)
        checked = {"zh": ["中文", "缺口与选址", "按分钟", "老年人（60 米/分）", "不考虑"],
                   "en": ["English", "Gaps and siting", "Minutes", "Elderly (60 m/min)",
                          "Ignore"]}
        category = {"zh": "社区服务", "en": "Community service"}
        heading = {"zh": "新站点数量", "en": "Number of new sites"}
        for lang in ("en", "zh", "en", "zh", "en", "zh"):
            page.get_by_text("English" if lang == "en" else "中文", exact=True).click()
            page.get_by_text(heading[lang]).wait_for(timeout=60_000)
            _idle(page)
            sidebar = page.locator("[data-testid=stSidebar]")
            for label in checked[lang]:
                radio = sidebar.locator("label", has_text=label).first.locator("input")
                sync_api.expect(radio).to_be_checked(timeout=20_000)
            box = sidebar.locator("[data-testid=stSelectbox] input").first
            sync_api.expect(box).to_have_value(category[lang], timeout=20_000)
            body = page.inner_text("body")
            assert "SettingsError" not in body and "Traceback" not in body
        page.screenshot(path=str(ARTIFACTS / "language_back_and_forth_zh.png"))
        browser.close()


def _peak_mb(pid: int) -> float:
    """Return a process's peak resident memory (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def test_a_bomb_uploaded_as_study_area_is_refused_freed_and_deleted(app_url, tmp_path):
    # Before: a 200 KB .osm.bz2 drove the server to 9.46 GB and a MemoryError traceback.
    from tests.test_limits import write_bz2_bomb

    bomb = write_bz2_bomb(tmp_path / "bomb.osm.bz2")
    with sync_api.sync_playwright() as p:
        browser, page = _open(p, app_url)
        _idle(page)
        before = _peak_mb(int(SERVER["pid"]))
        page.locator("[data-testid=stSidebar] input[type=file]").first.set_input_files(bomb)
        page.get_by_text("已拒绝").wait_for(timeout=60_000)
        _idle(page)
        body = page.inner_text("body")
        assert "bomb.osm.bz2" in body and "Traceback" not in body
        # The study area stays the previous one, and its numbers are still shown.
        assert page.locator("[data-testid=stMetric]").count() > 0
        # The upload box is empty again and no copy of the bomb is left on disk.
        assert "bomb.osm.bz2" not in page.inner_text("[data-testid=stFileUploader]")
        uploads = Path(SERVER["tmp"]) / "service-circle-uploads"
        assert not list(uploads.rglob("bomb.osm.bz2"))
        grown = _peak_mb(int(SERVER["pid"])) - before
        page.screenshot(path=str(ARTIFACTS / "bomb_refused_zh.png"))
        browser.close()
    assert grown < 300, f"the server's peak memory grew by {grown:.0f} MB"


def test_two_sessions_at_once_see_their_maps_on_every_visit(app_url):
    # Before: cached folium maps were shared and renamed in place, so the coverage map was
    # blank for every viewer but the first and after Coverage -> Gaps -> Coverage.
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        pages = [browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                 for _ in range(2)]
        for page in pages:
            page.goto(app_url)
        for page in pages:
            page.wait_for_selector("[data-testid=stMetric]", timeout=90_000)
        drawn = ".leaflet-overlay-pane path, .leaflet-overlay-pane canvas"
        for view in ("缺口与选址", "覆盖情况", "缺口与选址", "覆盖情况"):
            for page in pages:
                page.get_by_text(view, exact=True).click()
            for page in pages:
                _idle(page)
                _map_frame(page).locator(drawn).first.wait_for(timeout=60_000)
                body = page.inner_text("body")
                assert "Traceback" not in body and "Error" not in body
        browser.close()


def _choose_category(page, option: str) -> None:
    """Choose a service category in the sidebar (opening the sidebar if it is collapsed)."""
    _idle(page)
    box = page.get_by_role("combobox", name="服务类别")
    if not box.is_visible():
        page.locator("[data-testid=stExpandSidebarButton], "
                     "[data-testid=stSidebarCollapsedControl] button").first.click()
    box.click()
    page.get_by_role("option", name=option).click()
    _idle(page)


def _zoom(page) -> int:
    frame = page.locator(MAP).first.element_handle().content_frame()
    return frame.evaluate("() => { for (const k in window) { if (k.startsWith('map_') && "
                          "window[k].getZoom) return window[k].getZoom(); } }")


def test_offline_streets_and_names_and_the_view_kept_across_a_category_switch(app_url):
    # Before: with no base map the map was grey with coloured buildings only, and it
    # snapped back to its first view (zoom 18 -> 14) after every interaction.
    with sync_api.sync_playwright() as p:
        browser, page = _open(p, app_url)
        page.get_by_text("无底图（离线会议室）", exact=True).click()
        _idle(page)
        frame = _map_frame(page)
        frame.locator(".leaflet-overlay-pane path, .leaflet-overlay-pane canvas").first \
            .wait_for(timeout=60_000)
        # No tiles once the new map is drawn: offline.
        sync_api.expect(frame.locator(".leaflet-tile")).to_have_count(0, timeout=30_000)
        # Names are drawn from zoom 15 on, only those in view (after each move).
        assert frame.locator(".sc-street-name").count() == 0
        page.locator(MAP).first.element_handle().content_frame().evaluate(
            "() => { for (const k in window) { if (k.startsWith('map_') && window[k].setZoom)"
            " window[k].setZoom(15); } }")
        page.wait_for_timeout(800)
        assert _zoom(page) == 15
        names = frame.locator(".sc-street-name")
        assert names.count() > 20
        assert names.filter(has_text="Vilhonkatu").count() >= 1
        frame_handle = page.locator(MAP).first.element_handle().content_frame()
        frame_handle.evaluate("() => { window.map.setZoom(18); }")
        page.wait_for_timeout(800)
        assert 0 < names.count() < 20  # only the streets in view at a close zoom
        assert _zoom(page) == 18
        assert frame.locator(".leaflet-control-layers", has_text="街道与路名").count() == 1
        _choose_category(page, "医疗卫生")
        page.wait_for_timeout(1500)
        _map_frame(page).locator(".leaflet-overlay-pane path, .leaflet-overlay-pane canvas") \
            .first.wait_for(timeout=60_000)
        assert _zoom(page) == 18
        page.screenshot(path=str(ARTIFACTS / "offline_streets_zh.png"))
        browser.close()


def test_a_category_switch_recolours_the_drawn_map_and_swaps_only_its_layers(app_url):
    # Before: every switch sent a new map (1.4 MB on Malta) and the browser built it
    # again. Now the drawn map stays; the category's circle and facilities are swapped,
    # the homes recoloured, the legend retitled; a layer the user hid stays hidden.
    with sync_api.sync_playwright() as p:
        browser, page = _open(p, app_url)
        _choose_category(page, "医疗卫生")
        frame = _leaflet(page)
        frame.wait_for_function("() => window.scEntries && window.scEntries.circle")
        frame.evaluate("() => { window.__kept = true; }")
        colours = ("() => { const out = []; window.map.eachLayer(l => { if (l.feature && "
                   "l.feature.properties && l.feature.properties.i !== undefined) "
                   "out.push(l.options.fillColor); }); return out.join(','); }")
        health = frame.evaluate(colours)
        labels = ("() => Array.from(document.querySelectorAll("
                  "'.leaflet-control-layers-overlays label')).map(l => l.innerText.trim() + "
                  "'=' + l.querySelector('input').checked)")
        assert "服务圈: 医疗卫生=true" in frame.evaluate(labels)
        frame.evaluate("() => { document.querySelectorAll('.leaflet-control-layers-overlays "
                       "label')[2].querySelector('input').click(); }")  # hide the circle
        _choose_category(page, "日常购物")
        frame = _leaflet(page)
        frame.wait_for_function("() => document.querySelector('.sc-legend-title')"
                                ".innerText.includes('日常购物')", timeout=30_000)
        assert frame.evaluate("() => window.__kept === true")  # the same map, not rebuilt
        assert frame.evaluate(colours) != health
        shown = frame.evaluate(labels)
        assert "服务圈: 日常购物=false" in shown and "设施: 日常购物=true" in shown
        assert not any("医疗卫生" in x for x in shown)  # the old layers left the control
        assert frame.evaluate("() => !window.map.hasLayer(window.scEntries.circle) && "
                              "window.map.hasLayer(window.scEntries.facilities)")
        # A category without facilities puts a note above the map: the map stays drawn
        # (a component that moved was mounted again, empty, by Streamlit's frontend).
        _choose_category(page, "养老服务")
        page.get_by_text("该类别在研究区域内没有设施").wait_for(timeout=30_000)
        frame = _leaflet(page)
        frame.wait_for_function("() => document.querySelector('.sc-legend-title')"
                                ".innerText.includes('养老服务')", timeout=30_000)
        assert frame.evaluate("() => window.__kept === true")
        # A slower walking profile keeps the drawn map too: the homes carry distances,
        # the new layers give the speed their minutes are shown at.
        assert frame.evaluate("() => window.scHomes.speed.elderly_care") == 80
        page.get_by_text("老年人（60 米/分）").click()
        frame = _leaflet(page)
        frame.wait_for_function("() => window.scHomes.speed.elderly_care === 60",
                                timeout=30_000)
        assert frame.evaluate("() => window.__kept === true")
        browser.close()


def test_the_map_drawn_after_a_load_stays_for_the_next_switch(app_url, tmp_path):
    # A load (here: the user's own facilities) shows a progress box above the map. When
    # the box went at the next rerun, the map moved in the page and Streamlit's frontend
    # drew it again from nothing: the first click after opening the app redrew it.
    import geopandas as gpd
    from shapely.geometry import Point

    fac = tmp_path / "own_facilities.geojson"
    gpd.GeoDataFrame({"category": ["health", "catering"], "name": ["诊所", "餐厅"]},
                     geometry=[Point(24.941, 60.168), Point(24.945, 60.170)],
                     crs="EPSG:4326").to_file(fac)
    with sync_api.sync_playwright() as p:
        browser, page = _open(p, app_url)
        _idle(page)
        page.locator("[data-testid=stSidebar] input[type=file]").nth(1).set_input_files(
            str(fac))
        page.get_by_text("已加载").first.wait_for(timeout=120_000)  # the progress box, done
        _idle(page)
        frame = _leaflet(page)
        frame.evaluate("() => { window.__kept = true; }")
        _choose_category(page, "医疗卫生")
        frame = _leaflet(page)
        frame.wait_for_function("() => document.querySelector('.sc-legend-title')"
                                ".innerText.includes('医疗卫生')", timeout=30_000)
        assert frame.evaluate("() => window.__kept === true")
        assert frame.locator(".fac-marker").count() == 1  # the user's one health facility
        browser.close()


def _leaflet(page):
    """Return the visible map's frame once Leaflet has drawn its layers."""
    page.wait_for_selector(MAP, timeout=90_000)
    frame = page.locator(MAP).first.element_handle().content_frame()
    frame.wait_for_function("() => window.map && Object.keys(window.map._layers).length > 5",
                            timeout=60_000)
    return frame


def _click_lonlat(page, lon: float, lat: float) -> None:
    """Click the visible map at (lon, lat), placed by Leaflet; wait for the app."""
    point = _leaflet(page).evaluate(
        "([lat, lon]) => { const p = window.map.latLngToContainerPoint([lat, lon]); "
        "return {x: p.x, y: p.y}; }", [lat, lon])
    page.frame_locator(MAP).first.locator(".leaflet-container").click(position=point)
    page.wait_for_timeout(600)
    _idle(page)


def _until(page, script: str, ok=bool, timeout_s: float = 30):
    """Return ``script``'s first value in the visible map that is ``ok`` (maps are replaced)."""
    deadline = time.time() + timeout_s
    value = None
    while time.time() < deadline:
        try:
            value = _leaflet(page).evaluate(script)
        except sync_api.Error:  # the frame was replaced while we looked
            value = None
        if value is not None and ok(value):
            return value
        page.wait_for_timeout(300)
    return value


BLOCKS_JS = """() => { const out = {}; window.map.eachLayer(l => {
    const p = l.feature && l.feature.properties;
    if (p && p.block_id !== undefined) {
        const c = window.map.latLngToContainerPoint(l.getBounds().getCenter());
        out[p.block_id] = {x: c.x, y: c.y, grid: p.grid}; } }); return out; }"""


def test_grids_map_click_selects_a_block_and_moves_it_into_a_neighbour(app_url):
    # Before: a click on the grids map never reached the app (the map drawn after the
    # click was a new component without the click), so blocks were chosen in a list only.
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        page.goto(app_url)
        page.wait_for_selector("[data-testid=stMetric]", timeout=90_000)
        page.get_by_text("社区与网格", exact=True).click()
        _idle(page)
        page.get_by_text("生成社区与网格", exact=True).click()
        _idle(page)
        # Grid labels are drawn where they overlap no other (box of 110 x 30 px).
        from layers.grids import LABEL_BOX_PX

        centres = _leaflet(page).evaluate(
            "() => Array.from(document.querySelectorAll('.sc-grid-label')).map(e => {"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2,"
            " r.y + r.height / 2]; })")
        assert centres
        for k, (x, y) in enumerate(centres):
            for u, v in centres[k + 1:]:
                assert abs(x - u) > LABEL_BOX_PX[0] - 1 or abs(y - v) > LABEL_BOX_PX[1] - 1
        blocks = _leaflet(page).evaluate(BLOCKS_JS)
        # Click blocks until one lies on its grid's edge (it has a grid to move into).
        for chosen in sorted(blocks)[len(blocks) // 3::7][:8]:
            point = {k: blocks[chosen][k] for k in ("x", "y")}
            page.frame_locator(MAP).first.locator(".leaflet-container").click(position=point)
            page.wait_for_timeout(600)
            _idle(page)
            # Named by the street along it, with its id: "Unioninkatu旁 · B170".
            sync_api.expect(page.get_by_label("街区", exact=True).first).to_have_value(
                re.compile(rf"(旁 · )?{chosen}$"), timeout=30_000)
            if page.get_by_label("移入网格").first.input_value():
                break
            blocks = _leaflet(page).evaluate(BLOCKS_JS)
        # Move mode: the neighbouring grids it may go to are outlined (dashed).
        page.get_by_text("把选中街区移入所点的网格", exact=True).click()
        _idle(page)
        dashed = _until(page, "() => { let n = 0; window.map.eachLayer(l => { if (l.options "
                        "&& l.options.dashArray === '8 6') n += 1; }); return n; }")
        assert dashed >= 1
        frame = _leaflet(page)
        target = page.get_by_label("移入网格").first.input_value()
        blocks = frame.evaluate(BLOCKS_JS)
        own = blocks[chosen]["grid"]
        into = next(b for b, v in blocks.items() if v["grid"] == target)
        page.frame_locator(MAP).first.locator(".leaflet-container").click(
            position={k: blocks[into][k] for k in ("x", "y")})
        page.wait_for_timeout(600)
        _idle(page)
        page.get_by_text(f"已把 {chosen} 移入 {target}").wait_for(timeout=30_000)
        after = _until(page, BLOCKS_JS, lambda b: b[chosen]["grid"] != own)
        assert after[chosen]["grid"] == target != own
        page.screenshot(path=str(ARTIFACTS / "grids_click_move_zh.png"))
        # Undone with the edit box's undo, like every edit.
        page.get_by_text("撤销", exact=True).click()
        _idle(page)
        back = _until(page, BLOCKS_JS, lambda b: b[chosen]["grid"] == own)
        assert back[chosen]["grid"] == own
        browser.close()


def test_gaps_map_adds_moves_closes_and_deletes_stations_by_clicks(app_url):
    # Before: "add a station" was the only map gesture.
    import geopandas as gpd

    from gis.settings import WGS84, load_settings
    from gis.study import load_study

    study = load_study(None, load_settings())
    streets = study.streets
    longest = streets.geometry.length.sort_values(ascending=False).index[:2]
    spots = gpd.GeoSeries([streets.geometry.loc[i].interpolate(0.5, normalized=True)
                           for i in longest], crs=streets.crs).to_crs(WGS84)
    fac = study.facilities[study.facilities["category"] == "health"].to_crs(WGS84)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        page.goto(app_url)
        page.wait_for_selector("[data-testid=stMetric]", timeout=90_000)
        _choose_category(page, "医疗卫生")
        page.get_by_text("缺口与选址", exact=True).click()
        _idle(page)
        steps = [("添加站点", spots.iloc[0], "已添加站点"),
                 ("移动站点或设施", spots.iloc[0], "请点击它的新位置"),
                 (None, spots.iloc[1], "移到新位置"),
                 ("关闭现有设施", fac.geometry.iloc[0], "已关闭设施"),
                 ("删除添加的站点", spots.iloc[1], "已删除添加的站点")]
        for mode, where, said in steps:
            if mode:
                page.get_by_text(mode, exact=True).click()
                _idle(page)
            _click_lonlat(page, where.x, where.y)
            page.get_by_text(said).wait_for(timeout=30_000)
            if said == "请点击它的新位置":  # the picked station is ringed until placed
                sync_api.expect(page.frame_locator(MAP).first.locator(
                    ".leaflet-control-layers", has_text="待移动")).to_have_count(1,
                                                                          timeout=30_000)
            if said == "已关闭设施":
                frame = _leaflet(page)
                sync_api.expect(frame.locator(".leaflet-control-layers",
                                              has_text="方案中关闭的设施")).to_have_count(1)
                page.screenshot(path=str(ARTIFACTS / "gaps_gestures_zh.png"))
        body = page.inner_text("body")
        assert "Traceback" not in body
        # One change is left (the closure), and it can be undone.
        page.get_by_text("撤销上一步", exact=True).click()
        _idle(page)
        page.get_by_text("方案中还没有改动").first.wait_for(timeout=30_000)
        browser.close()


def test_a_click_on_the_gaps_map_is_sent_at_once_and_once(app_url):
    # streamlit-folium sends a click 250 ms late (its debounce for pans); the gaps map
    # sends it at once (layers.base.prompt_clicks) and its late send must not repeat it
    # (a second rerun of the same click).
    lon, lat = _street_point()
    with sync_api.sync_playwright() as p:
        browser, page = _open(p, app_url)
        page.get_by_text("缺口与选址", exact=True).click()
        _idle(page)
        page.get_by_text("添加站点", exact=True).click()
        _idle(page)
        frame = _leaflet(page)
        frame.evaluate("""() => { window.__sent = [];
          const send = window.Streamlit.setComponentValue;
          window.Streamlit.setComponentValue = (v) => {
            window.__sent.push(JSON.stringify(v)); return send(v); };
          document.addEventListener("click", () => {
            setTimeout(() => { window.__early = window.__sent.length; }, 100); },
            {capture: true, once: true}); }""")
        point = frame.evaluate(
            "([lat, lon]) => { const p = window.map.latLngToContainerPoint([lat, lon]); "
            "return {x: p.x, y: p.y}; }", [lat, lon])
        page.frame_locator(MAP).first.locator(".leaflet-container").click(position=point)
        page.get_by_text("已添加站点").wait_for(timeout=30_000)
        page.wait_for_timeout(1000)  # past streamlit-folium's own (debounced) send
        _idle(page)
        early, sent = frame.evaluate("() => [window.__early, window.__sent]")
        assert early == 1, f"the click was sent {early} times within 100 ms"
        assert len(sent) == 1, sent
        assert '"last_clicked":{"lat"' in sent[0]
        assert page.get_by_text("方案总效果").count() == 1  # one station added, once
        browser.close()


def test_find_a_place_zooms_every_map_to_it(app_url):
    # Point 9: a box to find a street (or, once grids exist, a community or grid).
    with sync_api.sync_playwright() as p:
        browser, page = _open(p, app_url)
        _idle(page)
        start = _until(page, "() => window.map.getZoom()")
        box = page.get_by_role("combobox", name="定位到")
        box.click()
        box.fill("Vilhon")
        page.get_by_role("option", name="Vilhonkatu · 街道").click()
        _idle(page)
        view = _until(page, "() => { const c = window.map.getCenter(); "
                            "return [c.lat, c.lng, window.map.getZoom()]; }",
                      lambda v: v[2] > start + 1)
        from gis.settings import WGS84, load_settings
        from gis.study import load_study

        streets = load_study(None, load_settings()).streets
        w, s, e, n = streets[streets["name"] == "Vilhonkatu"].to_crs(WGS84).total_bounds
        assert s - 0.001 < view[0] < n + 0.001 and w - 0.001 < view[1] < e + 0.001
        # The map is the user's again: another view keeps the place, not the first view.
        page.get_by_text("缺口与选址", exact=True).click()
        _idle(page)
        again = _until(page, "() => window.map.getZoom()", lambda z: z > start + 1)
        assert again == view[2]
        page.screenshot(path=str(ARTIFACTS / "find_place_zh.png"))
        browser.close()


def test_english_pages_show_no_chinese_and_the_colours_hold_for_colour_blind_readers(app_url):
    # Point 7 in the browser (every view, English: no Han character outside data names),
    # and point 4: the legend's walking-time swatches as drawn, seen with deuteranopia.
    import numpy as np
    from PIL import Image

    from tests.test_layers import CVD, _lab

    han = re.compile(r"[\u4e00-\u9fff]")
    with sync_api.sync_playwright() as p:
        browser, page = _open(p, app_url)
        page.get_by_text("English", exact=True).click()
        page.get_by_text("Ten-minute life service circle").wait_for(timeout=60_000)
        _idle(page)
        frame = _leaflet(page)
        boxes = frame.locator(".sc-legend span").all()[:5]
        shot = ARTIFACTS / "coverage_en.png"
        page.screenshot(path=str(shot))
        colours = []
        for b in boxes:
            png = b.screenshot()
            rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
            inner = rgb[2:-2, 2:-2].reshape(-1, 3).mean(axis=0)
            colours.append("#" + "".join(f"{int(round(v)):02x}" for v in inner))
        seen = [_lab(c, CVD["deuteranopia"]) for c in colours]
        assert all(a[0] > b[0] + 5 for a, b in zip(seen, seen[1:], strict=False)), colours
        # A deuteranopia view of the page, to look at.
        img = np.asarray(Image.open(shot).convert("RGB"), dtype=float) / 255
        lin = np.where(img <= 0.04045, img / 12.92, ((img + 0.055) / 1.055) ** 2.4)
        sim = np.clip(lin @ np.array(CVD["deuteranopia"]).T, 0, 1)
        out = np.where(sim <= 0.0031308, sim * 12.92, 1.055 * sim ** (1 / 2.4) - 0.055)
        Image.fromarray((out * 255).astype("uint8")).save(
            ARTIFACTS / "coverage_deuteranopia_en.png")
        for view in ("Gaps and siting", "Scenarios", "Communities and grids",
                     "Meeting report", "Coverage"):
            page.get_by_text(view, exact=True).click()
            _idle(page)
            page.wait_for_timeout(500)
            text = page.locator("[data-testid=stMain]").inner_text()
            # The language switch names Chinese in Chinese, by design.
            text += page.locator("[data-testid=stSidebar]").inner_text().replace("中文", "")
            # Data names (OSM street and facility names) are Finnish here: any Han
            # character is the interface's.
            assert not han.findall(text), (view, sorted(set(han.findall(text)))[:10])
        browser.close()


def test_the_report_stays_on_the_page_while_its_files_are_downloaded(app_url):
    # Point 3: downloading the PDF made the PNG and the preview disappear.
    with sync_api.sync_playwright() as p:
        browser, page = _open(p, app_url)
        page.get_by_text("会议报告", exact=True).click()
        _idle(page)
        page.get_by_text("生成会议报告", exact=True).click()
        page.get_by_text("下载 PDF 报告").wait_for(timeout=120_000)
        _idle(page)
        with page.expect_download() as pdf:
            page.get_by_text("下载 PDF 报告").click()
        assert pdf.value.suggested_filename == "report.pdf"
        data = Path(pdf.value.path()).read_bytes()
        assert data.startswith(b"%PDF") and b"NotoSansCJKsc" in data.replace(b"-", b"")
        _idle(page)
        # Still there after the download: the PNG's button and the preview image.
        assert page.get_by_text("下载地图 PNG").count() >= 1
        sync_api.expect(page.locator("[data-testid=stImage] img").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "report_after_download_zh.png"), full_page=True)
        browser.close()


def test_each_planner_saves_to_their_own_project_file(app_url):
    # Point 8: two planners on one server, each with a file of their own.
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        pages = [browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
                 for _ in range(2)]
        saved = []
        for i, page in enumerate(pages):
            page.goto(app_url)
            page.wait_for_selector("[data-testid=stMetric]", timeout=90_000)
            page.get_by_text("方案比较", exact=True).click()
            _idle(page)
            page.get_by_text("我自己的项目文件", exact=False).first.click()
            page.get_by_text("新建自己的项目文件", exact=True).click()
            _idle(page)
            page.get_by_text("缺口与选址", exact=True).click()
            _idle(page)
            page.get_by_text("添加站点", exact=True).click()
            _idle(page)
            lon, lat = _street_point()
            _click_lonlat(page, lon, lat)
            page.get_by_text("已添加站点").wait_for(timeout=30_000)
            page.get_by_label("方案名称").fill(f"planner {i}")
            page.get_by_label("方案名称").press("Enter")
            _idle(page)
            page.get_by_text("保存方案到项目文件", exact=True).click()
            _idle(page)
            msg = page.locator("[data-testid=stAlert]", has_text="已保存").first.inner_text()
            saved.append(msg.split()[-1])
        assert saved[0] != saved[1] and all(s.endswith(".gpkg") for s in saved)
        # Each planner's scenarios view lists their own scenario only.
        for i, page in enumerate(pages):
            page.get_by_text("方案比较", exact=True).click()
            _idle(page)
            page.get_by_role("combobox", name="方案").click()
            options = page.get_by_role("option").all_inner_texts()
            assert options == [f"planner {i}"], options
        browser.close()
