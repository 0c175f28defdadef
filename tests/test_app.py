"""The Streamlit app, driven through streamlit.testing's AppTest on the default area."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from layers.i18n import TEXT

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _percent(metric) -> float:
    return float(re.match(r"([\d.]+)", metric.value).group(1))


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_app_renders_the_default_area_in_chinese(app):
    assert app.title[0].value == TEXT["app_title"]["zh"]
    assert len(app.metric) == 4
    assert app.metric[0].label.startswith(TEXT["share_covered"]["zh"])
    assert 0 <= _percent(app.metric[0]) <= 100
    assert len(app.dataframe) >= 1


def test_longer_threshold_never_lowers_coverage(app):
    app.selectbox(key="category__zh").set_value("health").run()
    low = _percent(app.metric[0])
    app.slider(key="threshold_min").set_value(20.0).run()
    assert not app.exception
    high = _percent(app.metric[0])
    assert high >= low
    app.slider(key="threshold_min").set_value(3.0).run()
    assert _percent(app.metric[0]) <= low


def test_elderly_profile_lowers_health_coverage(app):
    app.selectbox(key="category__zh").set_value("health").run()
    adult = _percent(app.metric[0])
    app.radio(key="profile__zh").set_value("elderly").run()
    assert not app.exception
    assert _percent(app.metric[0]) < adult


def test_metres_mode_uses_the_presets(app):
    app.radio(key="threshold_mode__zh").set_value("metres").run()
    app.select_slider(key="threshold_m").set_value(300.0).run()
    assert not app.exception
    table = app.dataframe[0].value
    assert (table.iloc[:-1, 1] == "300").all()
    assert table.iloc[-1, 1] == "—"  # the full circle has no threshold of its own


def test_language_switch_changes_labels(app):
    app.radio(key="lang").set_value("en").run()
    assert not app.exception
    assert app.title[0].value == TEXT["app_title"]["en"]
    assert app.metric[0].label.startswith(TEXT["share_covered"]["en"])


def test_choices_survive_switching_the_language_back_and_forth(app):
    # Streamlit carried a widget's value across a language switch as its old label, so
    # the third switch ended in "Unknown walking profile '老年人（60 米/分）'".
    app.radio(key="profile__zh").set_value("elderly").run()
    app.selectbox(key="category__zh").set_value("health").run()
    app.radio(key="view__zh").set_value("gaps").run()
    for lang in ("en", "zh", "en", "zh"):
        app.radio(key="lang").set_value(lang).run()
        assert not app.exception
        assert app.radio(key=f"profile__{lang}").value == "elderly"
        assert app.selectbox(key=f"category__{lang}").value == "health"
        assert app.radio(key=f"view__{lang}").value == "gaps"
        assert app.session_state["profile"] == "elderly"


def test_every_text_has_chinese_and_english():
    for key, entry in TEXT.items():
        assert entry.get("zh"), key
        assert entry.get("en"), key
        # Chinese entries carry Chinese characters (a few proper names aside).
        if key not in {"basemap_osm"}:
            assert re.search(r"[\u4e00-\u9fff]", entry["zh"]), key


def test_gaps_view_runs_site_selection_and_builds_a_scenario(app, tmp_path, monkeypatch):
    app.radio(key="view__zh").set_value("gaps").run()
    assert not app.exception
    app.selectbox(key="category__zh").set_value("elderly_care").run()
    uncovered = int(app.metric[0].value.replace(",", ""))
    assert uncovered > 0
    app.slider(key="k").set_value(2).run()
    app.button(key="run_sites").click().run()
    assert not app.exception
    before_after = app.metric[3].value
    before, after = (int(v.replace(",", "")) for v in before_after.split(" → "))
    assert after > before
    app.button(key="accept_proposals").click().run()
    assert not app.exception
    assert len(app.session_state["changes"]) == 2
    # The what-if replay of the accepted sites gains exactly what the plan promised.
    effect = [m for m in app.metric if m.label == TEXT["scenario_effect"]["zh"]][0]
    assert int(effect.delta.lstrip("+").replace(",", "")) == after - before
    # The gap map follows the accepted stations: the households left outside match.
    total = int(app.metric[0].value.replace(",", "")) + before  # uncovered + covered
    left = [c.value for c in app.caption if "方案实施后剩下的缺口" in c.value]
    assert len(left) == 1
    assert f"共 {total - after:,} 户在圈外" in left[0]
    app.button(key="clear_scenario").click().run()
    assert app.session_state["changes"] == []


def test_saved_scenario_can_be_compared_with_the_current_state(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVICE_CIRCLE_PROJECT", str(tmp_path / "project.gpkg"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.radio(key="view__zh").set_value("gaps").run()
    at.selectbox(key="category__zh").set_value("health").run()
    at.button(key="run_sites").click().run()
    at.button(key="accept_proposals").click().run()
    at.text_input(key="scenario_name").set_value("三站方案").run()
    at.button(key="save_scenario").click().run()
    assert not at.exception
    assert (tmp_path / "project.gpkg").exists()
    assert any("project.gpkg" in s.value for s in at.success)
    table = at.dataframe[0].value
    assert list(table.columns)[1:3] == ["A · 现状", "B · 三站方案"]
    health = table[table.iloc[:, 0] == "医疗卫生"].iloc[0]
    assert health.iloc[3] > 0
    # The scenarios view reopens, renames and deletes saved scenarios.
    at.button(key="clear_scenario").click().run()
    assert at.session_state["changes"] == []
    at.radio(key="view__zh").set_value("scenarios").run()
    at.selectbox(key="scenario_pick").set_value("三站方案").run()
    at.button(key="scenario_open").click().run()
    assert len(at.session_state["changes"]) == 3
    assert {c["category"] for c in at.session_state["changes"]} == {"health"}
    at.text_input(key="scenario_new_name").set_value("方案乙").run()
    at.button(key="scenario_rename").click().run()
    assert not at.exception
    assert at.selectbox(key="scenario_pick").options == ["方案乙"]
    at.button(key="scenario_delete").click().run()
    assert not at.exception
    assert any(TEXT["no_scenarios"]["zh"] in i.value for i in at.info)


def test_grids_view_generates_edits_undoes_and_saves(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVICE_CIRCLE_GRIDS", str(tmp_path / "grids.gpkg"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.radio(key="view__zh").set_value("grids").run()
    assert not at.exception
    at.button(key="grid_generate").click().run()
    assert not at.exception
    n_grids = int(at.metric[1].value)
    assert n_grids >= 15
    assert at.metric[2].value == "0"
    # Split grids until one has more than one block: one more grid, then undo and redo.
    for i in range(len(at.selectbox(key="split_g").options)):
        at.selectbox(key="split_g").select_index(i)
        at.button(key="grid_split").click().run()
        if at.session_state["grid_message"]["ok"]:
            break
    assert not at.exception
    assert at.session_state["grid_message"]["ok"]
    assert int(at.metric[1].value) == n_grids + 1
    at.button(key="grid_undo_btn").click().run()
    assert int(at.metric[1].value) == n_grids
    # The banner says what happened now, not the split just undone.
    assert at.session_state["grid_message"]["text"][1] == "undone"
    assert any("已撤销" in s.value for s in at.success)
    at.button(key="grid_redo_btn").click().run()
    assert int(at.metric[1].value) == n_grids + 1
    assert at.session_state["grid_message"]["text"][1] == "redone"
    at.button(key="grid_save").click().run()
    assert not at.exception
    assert (tmp_path / "grids.gpkg").exists()


def test_grid_edit_lists_offer_only_edits_that_can_succeed(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVICE_CIRCLE_GRIDS", str(tmp_path / "grids.gpkg"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.radio(key="view__zh").set_value("grids").run()
    at.button(key="grid_generate").click().run()
    n_grids = len(at.selectbox(key="split_g").options)
    # Move: the targets are the grids the block touches, never every grid.
    targets = at.selectbox(key="edit_to").options
    assert 0 < len(targets) < n_grids
    at.button(key="grid_move").click().run()
    assert not at.exception
    assert at.session_state["grid_message"]["ok"] or at.session_state["grid_message"][
        "text"][1] not in ("refuse_not_touching", "refuse_cross_community")
    # Merge: the default pair shares a street, so it is not refused for that.
    at.button(key="grid_merge").click().run()
    assert not at.exception
    assert at.session_state["grid_message"]["ok"]
    assert len(at.selectbox(key="split_g").options) == n_grids - 1


def test_report_view_makes_a_chinese_pdf_with_community_names(tmp_path):
    import io

    from pypdf import PdfReader

    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.radio(key="view__zh").set_value("grids").run()
    at.button(key="grid_generate").click().run()
    at.radio(key="view__zh").set_value("report").run()
    assert not at.exception
    at.button(key="make_report").click().run()
    assert not at.exception
    assert at.session_state["report_ready"]
    # A download reruns the page: the report, its buttons and preview stay (they vanished).
    made = at.session_state["report"]
    at.run()
    assert at.session_state["report"] is made
    assert len(at.get("download_button")) >= 2 + 4
    assert len(at.get("image")) == 1
    # The same report, made directly, holds the Chinese headings and community names.
    from gis.analysis.coverage import compute_coverage
    from gis.settings import load_settings
    from gis.study import load_study
    from gis.zoning.blocks import make_blocks
    from gis.zoning.generate import plan_grids
    from layers.report import cjk_font, meeting_report

    if cjk_font() is None:
        pytest.fail("no CJK font: `make test` installs fonts-noto-cjk; run it as root")
    settings = load_settings()
    study = load_study(None, settings)
    result = compute_coverage(study.access(), study.facilities, settings)
    plan = plan_grids(make_blocks(study.streets, study.homes, settings.grids),
                      settings.grids)
    report = meeting_report(result, settings, "health", communities=plan.communities_gdf(),
                            study_name=study.name)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(report.pdf)).pages)
    for heading in ("十分钟生活服务圈", "服务圈内户数占比", "各社区覆盖情况", "医疗卫生"):
        assert heading in text
    for name in plan.community_names.values():
        assert name in text
    assert report.png.startswith(b"\x89PNG")


def test_coverage_view_shows_tables_per_community_and_grid_after_grids(tmp_path):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.radio(key="view__zh").set_value("grids").run()
    at.button(key="grid_generate").click().run()
    at.radio(key="view__zh").set_value("coverage").run()
    assert not at.exception
    headers = [h.value for h in at.subheader]
    assert TEXT["table_per_community"]["zh"] in headers
    assert TEXT["table_per_grid"]["zh"] in headers
    per_grid = at.dataframe[2].value
    assert per_grid[TEXT["households"]["zh"]].sum() == at.dataframe[0].value.iloc[0, 3]



@pytest.mark.parametrize("view", ["coverage", "gaps", "scenarios", "grids", "report"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_view_renders_in_both_languages(view, lang, tmp_path, monkeypatch):
    monkeypatch.setenv("SERVICE_CIRCLE_PROJECT", str(tmp_path / "none.gpkg"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.radio(key="lang").set_value(lang).run()
    at.radio(key=f"view__{lang}").set_value(view).run()
    assert not at.exception
    assert at.title[0].value == TEXT["app_title"][lang]


def test_gates_choice_runs_and_never_raises_coverage(app):
    app.selectbox(key="category__zh").set_value("health").run()
    plain = _percent(app.metric[0])
    app.radio(key="gates__zh").set_value("night").run()
    assert not app.exception
    # Honouring gates can only lengthen walks: coverage never rises.
    assert _percent(app.metric[0]) <= plain


def test_a_stored_station_far_from_the_streets_never_breaks_the_gaps_view(app):
    app.radio(key="view__zh").set_value("gaps").run()
    app.selectbox(key="category__zh").set_value("health").run()
    # A station stored by an earlier click, 2 km out in the sea off Helsinki.
    app.session_state["changes"] = [{"action": "add", "category": "health",
                                     "lon": 24.90, "lat": 60.14, "name": "far"}]
    app.run()
    assert not app.exception
    assert app.session_state["changes"] == []
    assert any("米" in e.value for e in app.error)


def test_opening_a_project_does_not_change_another_sessions_grids(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVICE_CIRCLE_GRIDS", str(tmp_path / "grids.gpkg"))
    first = AppTest.from_file(APP, default_timeout=120)
    first.run()
    first.radio(key="view__zh").set_value("grids").run()
    first.number_input(key="grid_max").set_value(400).run()
    first.button(key="grid_generate").click().run()
    first.button(key="grid_save").click().run()
    assert not first.exception
    second = AppTest.from_file(APP, default_timeout=120)
    second.run()
    second.radio(key="view__zh").set_value("grids").run()
    second.button(key="grid_generate").click().run()
    n_second = second.metric[1].value
    first.run()
    first.button(key="grid_open").click().run()  # the first planner reopens the project
    assert not first.exception
    second.run()
    assert not second.exception
    assert second.metric[1].value == n_second
    assert second.session_state["grid_blocks"] is None


def test_the_report_opens_with_a_brief_and_numbers_its_pages():
    """Streets, gap and site numbers, conclusions, site places, page numbers, the SC face."""
    import io

    from pypdf import PdfReader

    from gis.analysis.coverage import compute_coverage
    from gis.analysis.gaps import find_gaps
    from gis.planning.siting import plan_sites
    from gis.settings import load_settings
    from gis.study import load_study
    from layers.report import cjk_font, meeting_report, site_places

    if cjk_font() is None:
        pytest.fail("no CJK font: `make test` installs fonts-noto-cjk; run it as root")
    settings = load_settings()
    study = load_study(None, settings)
    result = compute_coverage(study.access(), study.facilities, settings)
    gaps = find_gaps(result, "health", settings)
    plan = plan_sites(result, "health", settings, k=3)
    sites = plan.sites[["rank", "gain_households", "geometry"]]
    report = meeting_report(result, settings, "health", gaps=gaps.areas, sites=sites,
                            study_name=study.name, streets=study.streets)
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(report.pdf)).pages]
    n = len(pages)
    for i, text in enumerate(pages, start=1):
        assert f"第 {i} 页，共 {n} 页" in text
    first = pages[0]
    assert "结论" in first
    gain = int(sites["gain_households"].sum())
    assert "新增 3 个站点" in first and f"{gain:,}" in first
    assert "G1" in first  # the gap numbers the gap table uses are on the map
    assert "Vilhonkatu" in first  # street names drawn from the study's own streets
    places = site_places(sites, study.streets)
    assert (places["street"] != "").all()
    detail = "".join(pages[1:])
    for street, lon in zip(places["street"], places["lon"], strict=True):
        assert street in detail and f"{lon:.5f}" in detail
    # Simplified Chinese forms: the SC face of the collection, not the Japanese first face.
    assert b"NotoSansCJKsc" in report.pdf and b"NotoSansCJKjp" not in report.pdf


def test_presets_read_as_the_standard_names_them_and_every_control_has_help(app):
    app.radio(key="threshold_mode__zh").set_value("metres").run()
    options = app.select_slider(key="threshold_m").options
    assert "GB 50180 五分钟生活圈 · 300 米" in options
    assert "十分钟生活圈承诺 · 800 米" in options
    assert not any(o.endswith(".0") for o in options)  # not "300.0"
    controls = [*app.sidebar.radio, *app.sidebar.selectbox, *app.sidebar.select_slider]
    missing = [c.label for c in controls if c.key != "lang" and not c.help]
    assert missing == []


def test_a_planner_with_a_project_file_of_their_own_never_writes_the_shared_one(
        tmp_path, monkeypatch):
    shared = tmp_path / "shared.gpkg"
    monkeypatch.setenv("SERVICE_CIRCLE_PROJECT", str(shared))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    mine = AppTest.from_file(APP, default_timeout=120)
    mine.run()
    mine.radio(key="view__zh").set_value("scenarios").run()
    mine.button(key="new_scenarios_project").click().run()
    own = Path(mine.session_state["own_scenarios_project"])
    assert own.parent.parent.parent.name == "service-circle-uploads"
    mine.radio(key="view__zh").set_value("gaps").run()
    mine.selectbox(key="category__zh").set_value("health").run()
    mine.button(key="run_sites").click().run()
    mine.button(key="accept_proposals").click().run()
    mine.text_input(key="scenario_name").set_value("我的方案").run()
    mine.button(key="save_scenario").click().run()
    assert not mine.exception
    assert own.exists() and not shared.exists()
    # Another planner on the same server sees the shared (empty) project, not this one.
    other = AppTest.from_file(APP, default_timeout=120)
    other.run()
    other.radio(key="view__zh").set_value("scenarios").run()
    assert any(TEXT["no_scenarios"]["zh"] in i.value for i in other.info)
    # The planner can download the file to keep it.
    mine.radio(key="view__zh").set_value("scenarios").run()
    assert any(b.label == TEXT["download_project"]["zh"] for b in mine.get("download_button"))


def test_the_server_warm_up_leaves_a_new_session_nothing_to_compute(monkeypatch):
    # `make run` (views.serve) loads the default area and draws its first map while the
    # server starts: a new session must find all of it under its own cache keys. Any
    # recomputation below raises, and the session would show it.
    import streamlit as st

    import gis.study
    import views.coverage
    import views.state
    from views.serve import warm

    st.cache_resource.clear()
    st.cache_data.clear()
    warm()

    def again(*_args, **_kwargs):
        msg = "a new session computed what the warm-up had done"
        raise AssertionError(msg)

    monkeypatch.setattr(gis.study, "load_study", again)
    monkeypatch.setattr(views.state, "compute_coverage", again)
    monkeypatch.setattr(views.coverage, "coverage_base_map", again)
    monkeypatch.setattr(views.coverage, "category_layers", again)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == TEXT["app_title"]["zh"]
    # The map went out with its circle: the warm-up drew it under the session's key.
    assert not [c for c in at.caption if c.value == TEXT["circle_drawing"]["zh"]]
