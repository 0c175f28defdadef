"""Streamlit app: the ten-minute life service circle on an interactive map.

Wiring only: widgets, caching and session state. Geometry lives in gis/, map styling in
layers/. Run with ``make run`` (or ``streamlit run app.py``); the study area is the bundled
central-Helsinki extract unless SERVICE_CIRCLE_SOURCE names another .osm.pbf / .osm file
or place.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from gis import GisError
from gis.analysis.coverage import (
    CoverageResult,
    area_summary,
    category_circle,
    compute_coverage,
    households_served,
    zone_summary,
)
from gis.analysis.gaps import GapResult, find_gaps
from gis.analysis.standards import check_standards, load_standards
from gis.data.places import place_index
from gis.data.write import write_gpkg_atomic
from gis.network.access import Access
from gis.planning.scenario_edits import CLICK_MODES, apply_click, as_changes, as_rows, map_points
from gis.planning.scenarios import (
    Delta,
    Scenario,
    WhatIf,
    compare_scenarios,
    delete_scenario,
    load_scenarios,
    rename_scenario,
    result_after,
    save_scenarios,
)
from gis.planning.siting import plan_sites
from gis.settings import WGS84, GridRules, Settings, load_settings
from gis.study import Study, StudyCache
from gis.zoning.blocks import Blocks, make_blocks
from gis.zoning.editor import EditResult, GridEditor
from gis.zoning.exports import FIELD_ALIASES, export_grid_table, export_zones
from gis.zoning.generate import plan_grids
from gis.zoning.plan import GridPlan
from gis.zoning.project import load_project, save_project
from layers.base import MapParts, fit_zoom, map_parts, standalone_html
from layers.coverage import coverage_map
from layers.gaps import gaps_map
from layers.grids import block_labels, communities_layer, grids_layer, grids_map
from layers.i18n import LANGS, percent, progress_text, t, translate_message, zone_label
from layers.report import meeting_report

SOURCE = os.environ.get("SERVICE_CIRCLE_SOURCE", "default")
PROJECT_PATH = Path(os.environ.get("SERVICE_CIRCLE_PROJECT", "projects/project.gpkg"))
GRID_PROJECT_PATH = Path(os.environ.get("SERVICE_CIRCLE_GRIDS",
                                        "projects/grids_project.gpkg"))
UPLOAD_DIR = Path(tempfile.gettempdir()) / "service-circle-uploads"
#: A session's upload folder not touched for this long belongs to a closed session.
UPLOAD_TTL_S = 24 * 3600
#: "auto": the file's own coordinate system (a projected one, e.g. UTM or CGCS2000
#: Gauss-Krueger, as on the command line); "epsg": a code the user types.
CRS_CHOICES = ("auto", "wgs84", "gcj02", "bd09", "cgcs2000", "epsg")
UPLOAD_TYPES = ["gpkg", "geojson", "json", "zip", "csv"]
#: What a click on the grids map does.
GRID_CLICKS = ("select", "move")


def init_state(settings: Settings) -> None:
    """Set every session-state default once: small, plain values only."""
    defaults = {
        "lang": "zh",
        "category": settings.category_ids[0],
        "threshold_mode": "minutes",
        "gates": "off",
        "threshold_min": float(settings.threshold_min),
        "threshold_m": 800.0,
        "profile": settings.default_profile,
        "basemap": "osm",
        "facilities_crs": "auto",
        "buildings_crs": "auto",
        "good_inputs": (SOURCE, None, None, None, None, None, None),
        "upload_session": "",
        "upload_gen": {},
        "upload_files": {},
        "refused": None,
        "view": "coverage",
        "k": 3,
        "proposal": None,
        "changes": [],
        "scenario_name": "",
        "grid_target": settings.grids.target_households,
        "grid_min": settings.grids.min_households,
        "grid_max": settings.grids.max_households,
        "comm_target": settings.grids.community_target_households,
        "grid_state": None,
        "grid_rules": None,
        "grid_undo": [],
        "grid_redo": [],
        "grid_history": [],
        "grid_message": None,
        "with_workers": False,
        "grid_blocks": None,
        "grid_click": "select",
        "map_click": "look",
        "moving": None,
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


@st.cache_resource(show_spinner=False)
def study_cache() -> StudyCache:
    """Return the one store of loaded studies (the studies in it are never mutated)."""
    return StudyCache(load_settings)


@st.cache_resource(show_spinner=False, max_entries=16)
def get_access(_study: Study, study_key: tuple, gates: str = "off") -> Access:
    """Return how the study's homes reach the streets (shared, never mutated)."""
    return _study.access(gates=gates)


@st.cache_resource(show_spinner=False, max_entries=64)
def get_coverage(_study: Study, study_key: tuple, minutes: float | None,
                 metres: float | None, profile: str, gates: str = "off") -> CoverageResult:
    """Return coverage of every category; ``study_key`` stands in for the study.

    Shared by every session and never mutated (the result carries its access model,
    which is too large to copy into each session).
    """
    return compute_coverage(get_access(_study, study_key, gates), _study.facilities,
                            load_settings(), minutes=minutes, metres=metres, profile=profile)


@st.cache_data(show_spinner=False, max_entries=64)
def get_summary(_result: CoverageResult, key: tuple) -> pd.DataFrame:
    """Return the area summary of a coverage result (``key`` names the analysis)."""
    return area_summary(_result)


@st.cache_data(show_spinner=False, max_entries=64)
def get_circle(_study: Study, study_key: tuple, category: str, threshold_m: float) -> object:
    """Return the union of one category's service circles (None: no facility)."""
    try:
        return category_circle(get_access(_study, study_key), _study.facilities, category,
                               threshold_m, load_settings())
    except GisError:
        return None


def session_upload_dir() -> Path:
    """Return this session's upload folder; remove those of sessions closed a day ago."""
    if not st.session_state["upload_session"]:
        st.session_state["upload_session"] = uuid.uuid4().hex
        if UPLOAD_DIR.is_dir():
            now = time.time()
            for old in UPLOAD_DIR.iterdir():
                with contextlib.suppress(OSError):
                    if now - old.stat().st_mtime > UPLOAD_TTL_S:
                        shutil.rmtree(old, ignore_errors=True)
    return UPLOAD_DIR / st.session_state["upload_session"]


def uploader(widget: str, label: str, **kwargs: object) -> object:
    """Draw a file uploader whose key changes when its refused file is dropped.

    The browser refuses a file above the settings' ``max_upload_mb`` before sending it,
    so an over-size file never takes server memory (Streamlit words that refusal in
    English; the limit is written in the box's help in the user's language).
    """
    gen = st.session_state["upload_gen"].get(widget, 0)
    limit = int(load_settings().max_upload_mb)
    return st.file_uploader(label, key=f"{widget}_{gen}" if gen else widget,
                            max_upload_size=limit, **kwargs)


def _saved_upload(upload: object, settings: Settings, lang: str, widget: str) -> str | None:
    """Keep an uploaded file on disk under its own name, in a folder named by its content.

    The folder is the session's own, so that dropping the file deletes only this user's
    copy. Files larger than the settings' limit are refused with a message and freed.
    """
    if upload is None:
        return None
    size_mb = upload.size / 1e6  # type: ignore[attr-defined]
    if size_mb > settings.max_upload_mb:
        name = upload.name  # type: ignore[attr-defined]
        st.sidebar.error(t("too_large", lang, name=name, size=f"{size_mb:.0f}",
                           limit=f"{settings.max_upload_mb:.0f}"))
        _free_upload(getattr(upload, "file_id", None))
        return None
    data = upload.getvalue()  # type: ignore[attr-defined]
    folder = session_upload_dir() / hashlib.sha1(data).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    folder.parent.touch()
    # The user's own file name is kept, so that messages name the file they chose.
    path = folder / Path(upload.name).name  # type: ignore[attr-defined]
    if not path.exists():
        path.write_bytes(data)
    del data
    st.session_state["upload_files"][str(path)] = (widget, getattr(upload, "file_id", None))
    return str(path)


def _free_upload(file_id: str | None) -> None:
    """Drop an uploaded file from the server's memory now, not when the session ends."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None and file_id and getattr(ctx, "uploaded_file_mgr", None) is not None:
        with contextlib.suppress(Exception):
            ctx.uploaded_file_mgr.remove_file(ctx.session_id, file_id)


def drop_uploads(keep: Iterable[object], refused: str | None = None) -> None:
    """Delete this session's uploaded files that no input uses any more.

    ``refused``: the name of a file a loader refused; its copy is deleted, its memory
    freed and its upload box emptied, whether or not an input still names it.
    """
    keep_paths = {str(k) for k in keep if k}
    files = st.session_state["upload_files"]
    for path, (widget, file_id) in list(files.items()):
        is_refused = refused is not None and Path(path).name == refused
        if path in keep_paths and not is_refused:
            continue
        shutil.rmtree(Path(path).parent, ignore_errors=True)
        del files[path]
        if is_refused:
            _free_upload(file_id)
            gen = st.session_state["upload_gen"]
            gen[widget] = gen.get(widget, 0) + 1


def choice(kind: str, container: object, name: str, label: str, options: Sequence[object],
           fmt: Callable[[object], str], **kwargs: object) -> object:
    """Draw a radio or select box whose value is an id kept in ``st.session_state[name]``.

    The widget has a key per language (``view__zh``, ``view__en``): Streamlit 1.67 carries
    a keyed widget's value across a change of its labels as the label shown before, so
    one widget for both languages lost its selection on a language switch and passed a
    label ("老年人（60 米/分）") to the analysis. The widget of the language shown starts
    from the id; its value is the id the rest of the app reads.
    """
    lang = st.session_state["lang"]
    key = f"{name}__{lang}"
    if st.session_state.get(key) not in options:  # new in this language, or stale
        current = st.session_state.get(name)
        st.session_state[key] = current if current in options else options[0]
    value = getattr(container, kind)(label, options, key=key, format_func=fmt, **kwargs)
    st.session_state[name] = value
    return value


def declared_crs(layer: str) -> str | None:
    """Return what the user declared for a layer's coordinates (None: the file's own)."""
    chosen = st.session_state[f"{layer}_crs"]
    if chosen == "auto":
        return None
    if chosen == "epsg":
        code = str(st.session_state.get(f"{layer}_epsg", "")).strip().upper()
        code = code.removeprefix("EPSG:").strip()
        return f"EPSG:{code}" if code else None
    return str(chosen)


def layer_upload(layer: str, settings: Settings, lang: str) -> object:
    """Draw a layer's upload box with its coordinate-system choice; return the upload."""
    up = uploader(f"{layer}_upload", t(f"upload_{layer}", lang), type=UPLOAD_TYPES,
                  help=t("upload_limit_help", lang, limit=f"{settings.max_upload_mb:.0f}"))
    choice("selectbox", st, f"{layer}_crs", t("declared_crs", lang), CRS_CHOICES,
           lambda c: t(f"crs_{c}", lang), help=t("help_crs", lang))
    if st.session_state[f"{layer}_crs"] == "epsg":
        st.text_input(t("epsg_code", lang), key=f"{layer}_epsg", placeholder="4547")
    return up


def sidebar(settings: Settings) -> tuple:
    """Draw the controls; return the requested study inputs."""
    lang = st.session_state["lang"]
    sb = st.sidebar
    sb.radio(t("language", lang), LANGS, key="lang", horizontal=True,
             format_func=lambda v: {"zh": "中文", "en": "English"}[v])
    lang = st.session_state["lang"]
    views = ("coverage", "gaps", "scenarios", "grids", "report")
    choice("radio", sb, "view", t("view", lang), views, lambda v: t(f"view_{v}", lang),
           help=t("help_view", lang))
    shown = st.session_state["good_inputs"][0]  # the area loaded last, not the start-up one
    with sb.expander(f"{t('study_area', lang)}: " + (
            t("default_area", lang) if shown == "default" else Path(str(shown)).name)):
        area_up = uploader("area_upload", t("upload_area", lang),
                           type=["pbf", "osm", "bz2", "gpkg"],
                           help=t("upload_limit_help", lang, limit=f"{settings.max_upload_mb:.0f}"))
        st.text_input(t("place_name", lang), key="place_input",
                      placeholder=t("place_placeholder", lang))
        if st.button(t("load_place", lang), key="load_place"):
            st.session_state["place"] = st.session_state["place_input"].strip() or None
    choice("selectbox", sb, "category", t("category", lang), settings.category_ids,
           lambda c: settings.category(c).name(lang), help=t("help_category", lang))
    choice("radio", sb, "threshold_mode", t("threshold_mode", lang), ("minutes", "metres"),
           lambda m: t(f"mode_{m}", lang), horizontal=True, help=t("help_threshold", lang))
    if st.session_state["threshold_mode"] == "minutes":
        sb.slider(t("minutes", lang), 1.0, 30.0, step=1.0, key="threshold_min",
                  help=t("help_minutes", lang))
    else:
        presets = sorted({*settings.presets_m.values(), st.session_state["threshold_m"]})
        named = {v: name for name, v in settings.presets_m.items()}
        sb.select_slider(t("metres", lang), options=presets, key="threshold_m",
                         format_func=lambda v: t(f"preset_{named[v]}", lang,
                                                 default=f"{v:,.0f} m")
                         if v in named else f"{v:,.0f} m", help=t("help_metres", lang))
    choice("radio", sb, "profile", t("profile", lang), tuple(settings.speeds_m_per_min),
           lambda p: t(f"profile_{p}", lang, default=str(p)), help=t("help_profile", lang))
    bases = ("osm", "custom", "none") if settings.tile_url else ("osm", "none")
    choice("radio", sb, "gates", t("gates", lang), ("off", "day", "night"),
           lambda g: t(f"gates_{g}", lang), horizontal=True, help=t("help_gates", lang))
    choice("radio", sb, "basemap", t("basemap", lang), bases,
           lambda b: settings.tile_name if b == "custom" else t(f"basemap_{b}", lang),
           help=t("help_basemap", lang))
    with sb.expander(t("own_data", lang)):
        fac_up = layer_upload("facilities", settings, lang)
        bld_up = layer_upload("buildings", settings, lang)
        table_up = uploader("hh_table_upload", t("upload_hh_table", lang), type=["csv", "xlsx"],
                            help=t("upload_hh_table_help", lang))
        raster_up = uploader("raster_upload", t("upload_raster", lang), type=["tif", "tiff"],
                             help=t("upload_raster_help", lang))
    fac_path = _saved_upload(fac_up, settings, lang, "facilities_upload")
    bld_path = _saved_upload(bld_up, settings, lang, "buildings_upload")
    area_path = _saved_upload(area_up, settings, lang, "area_upload")
    source = area_path or st.session_state.get("place") or SOURCE
    return (source, fac_path, declared_crs("facilities") if fac_path else None,
            bld_path, declared_crs("buildings") if bld_path else None,
            _saved_upload(table_up, settings, lang, "hh_table_upload"),
            _saved_upload(raster_up, settings, lang, "raster_upload"))


def basemap_choice(settings: Settings) -> str | tuple[str, str, str]:
    """Return the base map for the layers: osm, none, or the custom tiles of settings."""
    choice = st.session_state["basemap"]
    if choice == "custom" and settings.tile_url:
        return (settings.tile_url, settings.tile_attribution, settings.tile_name)
    return "none" if choice == "custom" else choice


def say_progress(status: object, lang: str) -> Callable[[str], None]:
    """Return a progress callback that writes gis's steps in the user's language."""
    settings = load_settings()
    names = {c.id: c.name(lang) for c in settings.categories}

    def say(message: str) -> None:
        status.write(progress_text(message, lang, names))  # type: ignore[attr-defined]

    return say


def load(inputs: tuple, lang: str) -> tuple[Study, tuple]:
    """Return the study for ``inputs``, or the last good one with an error shown."""
    loaded = study_cache().peek(inputs)
    # A progress box only while an area loads (drawing it costs every rerun ~0.1 s).
    status = st.status(t("loading", lang), expanded=False) if loaded is None else None
    try:
        study = loaded or study_cache().get(inputs, progress=say_progress(status, lang))
        if status is not None:
            status.update(label=t("loaded", lang), state="complete")
        for warning in study.warnings:
            st.warning(_tr(warning, lang))
        if study.poi_report is not None and len(study.poi_report):
            with st.expander(t("poi_not_used", lang,
                               n=int(study.poi_report["rows"].sum()))):
                st.dataframe(study.poi_report, hide_index=True, width="stretch")
        table = study.household_table
        if table is not None and (table["matched_homes"] == 0).any():
            missed = table[table["matched_homes"] == 0].drop(columns=["matched_homes"])
            with st.expander(t("hh_rows_unmatched", lang, n=len(missed), total=len(table))):
                st.dataframe(missed, hide_index=True, width="stretch")
        st.session_state["good_inputs"] = inputs
        drop_uploads(inputs)
        return study, inputs
    except GisError as err:
        if status is not None:
            status.update(label=t("input_error_short", lang), state="error")
        good = st.session_state["good_inputs"]
        where = str(getattr(err, "params", {}).get("where", ""))
        refused = next((Path(p).name for p in inputs if isinstance(p, str)
                        and p in st.session_state["upload_files"]
                        and Path(p).name in where), None)
        if refused is not None:
            # The refused file leaves memory and disk now; its message is shown once more
            # after the rerun that empties its upload box.
            drop_uploads(good, refused=refused)
            st.session_state["refused"] = err
            st.rerun()
        show_error(err, lang, lead=t("input_error", lang))
        if good == inputs:
            st.stop()
        return study_cache().get(good), good


ERROR_HEADLINES = {
    "EmptyInputError": "error_empty",
    "InputError": "error_input",
    "CRSMismatchError": "error_crs",
    "NoReachableFacilityError": "error_unreachable",
    "SettingsError": "error_settings",
    "SaveBusyError": "error_busy",
}


def _tr(text: object, lang: str) -> str:
    """Translate a gis message (a Msg or plain text) into ``lang``."""
    return translate_message(str(text), getattr(text, "key", None),
                             getattr(text, "params", None), lang)


def show_error(err: Exception, lang: str, *, lead: str = "", headline_key: str = "") -> None:
    """Show an error: a headline in the user's language, then the message itself.

    The message names the file, the problem and the fix (written in English by gis/).
    ``headline_key`` replaces the headline chosen by error kind (e.g. for a map click,
    where a headline about files would mislead).
    """
    key = headline_key or ERROR_HEADLINES.get(type(err).__name__, "error_other")
    headline = f"{lead} {t(key, lang)}".strip()
    body = translate_message(str(err), getattr(err, "key", None),
                             getattr(err, "params", None), lang)
    st.error(f"**{headline}**\n\n{body}")


def summary_table(summary: pd.DataFrame, settings: Settings, lang: str) -> pd.DataFrame:
    """Return the area summary with translated names and columns."""
    table = summary.copy()
    table["category"] = [t("full_circle", lang) if c == "full_circle"
                         else settings.category(c).name(lang) for c in table["category"]]
    table["share_covered"] = [percent(v, lang) for v in table["share_covered"]]
    # The full circle has no threshold of its own: a dash, not an empty "None" cell.
    table["threshold_m"] = ["—" if pd.isna(v) else f"{v:.0f}" for v in table["threshold_m"]]
    table = table[["category", "threshold_m", "facilities", "households",
                   "households_covered", "share_covered", "households_left_out"]]
    return table.rename(columns={
        "category": t("col_category", lang), "threshold_m": t("col_threshold_m", lang),
        "facilities": t("col_facilities", lang), "households": t("col_households", lang),
        "households_covered": t("col_covered", lang),
        "share_covered": t("col_share", lang),
        "households_left_out": t("col_left_out", lang)})


def main() -> None:
    """Draw the page."""
    settings = load_settings()
    st.set_page_config(page_title="十分钟生活服务圈 · Service circles", layout="wide")
    init_state(settings)
    inputs = sidebar(settings)
    lang = st.session_state["lang"]
    st.title(t("app_title", lang))
    st.caption(t("app_caption", lang))
    if st.session_state["refused"] is not None:
        show_error(st.session_state["refused"], lang, lead=t("input_error", lang))
        st.session_state["refused"] = None
    study, used = load(inputs, lang)

    minutes = metres = None
    if st.session_state["threshold_mode"] == "minutes":
        minutes = float(st.session_state["threshold_min"])
    else:
        metres = float(st.session_state["threshold_m"])
    profile = st.session_state["profile"]
    category = st.session_state["category"]
    with st.spinner(t("computing", lang)):
        result = get_coverage(study, used, minutes, metres, profile,
                              st.session_state["gates"])
        summary = get_summary(result, (used, minutes, metres, profile,
                                       st.session_state["gates"]))
        circle = get_circle(study, used, category, result.thresholds[category].metres)

    if st.session_state["view"] in ("coverage", "gaps", "grids"):
        place_finder(study, used, lang)
    if st.session_state["view"] == "gaps":
        gaps_view(study, used, result, settings, lang)
    elif st.session_state["view"] == "grids":
        grids_view(study, used, settings, lang)
    elif st.session_state["view"] == "scenarios":
        scenarios_view(study, result, settings, lang)
    elif st.session_state["view"] == "report":
        report_view(study, used, result, circle, settings, lang)
    else:
        coverage_view(study, result, summary, circle, settings, lang,
                      plan=_current_plan(study, used))


@st.cache_data(show_spinner=False, max_entries=16)
def street_places(_study: Study, used: tuple) -> pd.DataFrame:
    """Return the study area's named streets with their bounds (``used`` names the study)."""
    return place_index(_study.streets)


@st.cache_data(show_spinner=False, max_entries=16)
def zone_places(_study: Study, used: tuple, plan_key: str) -> pd.DataFrame:
    """Return the communities and grids of this session's plan (``plan_key``) by name."""
    plan = _current_plan(_study, used) if plan_key else None
    zones = {} if plan is None else {"community": plan.communities_gdf(),
                                     "grid": plan.grids_gdf()}
    return place_index(None, zones)


def place_finder(study: Study, used: tuple, lang: str) -> None:
    """Draw a box to find a community, grid or street by name and zoom the map to it."""
    state = st.session_state.get("grid_state")
    plan_key = hashlib.sha1(json.dumps(state).encode()).hexdigest() if state else ""
    index = pd.concat([zone_places(study, used, plan_key), street_places(study, used)],
                      ignore_index=True)
    labels = [f"{n} · {t('place_' + k, lang)}" for n, k in zip(index["name"], index["kind"],
                                                              strict=True)]

    def go() -> None:
        chosen = st.session_state.get("place_pick")
        if chosen in labels:
            row = index.iloc[labels.index(chosen)]
            bounds = row[["west", "south", "east", "north"]].to_numpy(dtype=float)
            st.session_state["focus"] = {
                "center": [float((row["south"] + row["north"]) / 2),
                           float((row["west"] + row["east"]) / 2)],
                "zoom": min(fit_zoom(bounds, 900, 560) - 0.5, 17.0)}

    if st.session_state.get("place_pick") not in labels:
        st.session_state["place_pick"] = None
    st.selectbox(t("find_place", lang), labels, index=None, key="place_pick", on_change=go,
                 placeholder=t("find_place_hint", lang), help=t("help_find_place", lang))


def take_focus() -> dict:
    """Return the place the user chose to zoom to, once (then the map is theirs again)."""
    return st.session_state.pop("focus", None) or {}


def analysis_key(used: tuple, result: CoverageResult) -> tuple:
    """Return what identifies an analysis: the study inputs, thresholds and gate choice."""
    return (used,
            tuple((c, th.metres, th.speed_m_per_min) for c, th in result.thresholds.items()),
            st.session_state["gates"])


def _map_key(result: CoverageResult, category: str, lang: str, settings: Settings) -> tuple:
    """Return what identifies a coverage map: the analysis, category, language, tiles."""
    return (*analysis_key(st.session_state["good_inputs"], result), category, lang,
            repr(basemap_choice(settings)))


@st.cache_resource(show_spinner=False)
def prewarmed() -> set:
    """Return the analyses whose other categories' maps are being or were prepared."""
    return set()


def prewarm_coverage_maps(study: Study, result: CoverageResult, settings: Settings,
                          lang: str, plan: GridPlan | None, plan_key: str) -> None:
    """Prepare the coverage maps of the other categories in the background, once.

    After the first map is on screen, a thread draws the circles and renders the maps
    of the remaining categories into the shared caches, so that switching category is
    as quick as switching back (on Malta 3.5 s a first switch otherwise).
    """
    used = st.session_state["good_inputs"]
    basemap = basemap_choice(settings)
    jobs = [(c, _map_key(result, c, lang, settings), result.thresholds[c].metres)
            for c in result.categories if c != st.session_state["category"]]
    mark = (_map_key(result, "", lang, settings), plan_key)
    seen = prewarmed()
    if mark in seen or not jobs:
        return
    seen.add(mark)

    def work() -> None:
        for category, key, metres in jobs:
            try:
                circle = get_circle(study, used, category, metres)
                get_coverage_parts(study, result, key, category, circle, lang, basemap, plan,
                                   plan_key)
            except Exception:  # noqa: BLE001 (a session will compute it and show the error)
                seen.discard(mark)
                return

    threading.Thread(target=work, name="prewarm-maps", daemon=True).start()


@st.cache_resource(show_spinner=False, max_entries=64)
def get_coverage_parts(_study: Study, _result: CoverageResult, key: tuple, category: str,
                       _circle: object, lang: str, basemap: object,
                       _plan: GridPlan | None, plan_key: str) -> MapParts:
    """Return the coverage map rendered for the browser, once per key (shared, immutable).

    The folium map is built and rendered here and not kept (switching back is instant,
    from the parts). With a grid plan (``plan_key`` names its state), its community
    boundaries and grids are layers the user can switch on.
    """
    settings = load_settings()
    served = households_served(_result, category)
    extra = ([communities_layer(_plan, lang=lang), grids_layer(_plan, lang=lang, show=False)]
             if _plan is not None else [])
    fmap = coverage_map(_result, category, settings, circle=_circle, lang=lang,
                        basemap=basemap, served=served, extra_layers=extra,
                        streets=_study.streets)
    return map_parts(fmap)


@st.cache_resource(show_spinner=False, max_entries=32)
def get_gaps_parts(_study: Study, _result: CoverageResult, _shown: GapResult,
                   _sites: gpd.GeoDataFrame | None, _circles: gpd.GeoSeries | None,
                   key: tuple, category: str, lang: str, basemap: str | tuple,
                   added: tuple, closed: tuple, scenario: str, proposal: str,
                   picked: tuple | None = None) -> MapParts:
    """Return the gaps map rendered for the browser, once per state (shared, immutable).

    The state is the analysis (``key``), the category, the scenario's changes
    (``scenario``, ``added``, ``closed``, ``picked``: a station waiting for its new
    place) and the proposal's sites; the gaps shown, the
    sites and their circles follow from it. A rerun that changes none of them (any other
    widget) costs nothing here (2.4 s a rerun on Malta when st_folium drew it each time).
    """
    settings = load_settings()
    bounds = _result.homes.to_crs(WGS84).total_bounds
    fmap = gaps_map(_shown, _result.facilities, settings, bounds=bounds, sites=_sites,
                    circles=_circles, added=list(added), closed=list(closed), lang=lang,
                    basemap=basemap, streets=_study.streets, picked=picked)
    return map_parts(fmap)


def show_map(parts: MapParts, *, key: str, height: int,
             returned_objects: Sequence[str] = (),
             focus: dict | None = None,
             on_change: Callable[[], None] | None = None) -> dict | None:
    """Draw pre-rendered map parts with streamlit-folium's component; return its value.

    The arguments are those ``st_folium`` (streamlit-folium 0.27.4, pinned) passes to its
    component; only the rendering, the costly part, is done once instead of per rerun.
    ``focus`` (``center`` and ``zoom``) moves the drawn map without drawing it again;
    ``on_change`` is called (as a widget callback) after a click stored its value under
    ``st.session_state[key]``.
    """
    import streamlit_folium as sf

    focus = focus or {}

    hash_key = sf.generate_js_hash(parts.script, key, False)
    bounds = {"_southWest": {"lat": parts.bounds[0][0], "lng": parts.bounds[0][1]},
              "_northEast": {"lat": parts.bounds[1][0], "lng": parts.bounds[1][1]}}
    defaults = {"last_clicked": None, "last_active_drawing": None, "bounds": bounds,
                "zoom": parts.zoom, "last_object_clicked": None,
                "last_object_clicked_tooltip": None}
    returned = list(returned_objects)

    def changed() -> None:
        st.session_state[key] = st.session_state.get(hash_key, {})
        if on_change is not None:
            on_change()

    return sf._component_func(  # type: ignore[no-any-return]
        script=parts.script, header=parts.header, html=parts.html, id=parts.map_id,
        key=hash_key, height=height, width=None, returned_objects=returned,
        default={k: v for k, v in defaults.items() if k in returned},
        zoom=focus.get("zoom"), center=focus.get("center"), feature_group=None,
        return_on_hover=False, layer_control=None, pixelated=False,
        css_links=list(parts.css_links), js_links=list(parts.js_links), on_change=changed,
        wrap_longitude=False)


def coverage_view(study: Study, result: CoverageResult, summary: pd.DataFrame,
                  circle: object, settings: Settings, lang: str, *,
                  plan: GridPlan | None = None) -> None:
    """Draw the coverage view: headline numbers, map and tables.

    With a grid plan in the session, also a table and chart per community and per grid.
    """
    category = st.session_state["category"]
    row = summary.set_index("category")
    cols = st.columns(4)
    cols[0].metric(f"{t('share_covered', lang)} · {settings.category(category).name(lang)}",
                   percent(row.loc[category, "share_covered"], lang))
    cols[1].metric(t("full_circle", lang), percent(row.loc["full_circle", "share_covered"], lang))
    cols[2].metric(t("households", lang), f"{int(row.loc[category, 'households']):,}")
    cols[3].metric(t("left_out", lang), f"{int(row.loc[category, 'households_left_out']):,}")
    if row.loc[category, "facilities"] == 0:
        st.info(t("no_facility", lang))
    if result.no_data:
        st.caption(t("no_data_note", lang, cats="、".join(
            settings.category(c).name(lang) for c in result.no_data)))

    plan_key = (hashlib.sha1(json.dumps(st.session_state["grid_state"]).encode()).hexdigest()
                if plan is not None else "")
    # Rendered once per map for every session (st_folium would render the whole folium
    # tree on each rerun of each session).
    parts = get_coverage_parts(study, result, _map_key(result, category, lang, settings),
                               category, circle, lang, basemap_choice(settings), plan,
                               plan_key)
    show_map(parts, key="map", height=620, focus=take_focus())
    prewarm_coverage_maps(study, result, settings, lang, plan, plan_key)
    st.caption(t("osm_attribution", lang))

    st.subheader(t("summary_table", lang))
    st.dataframe(summary_table(summary, settings, lang), hide_index=True,
                 width="stretch")
    if plan is not None:
        for heading, zones in ((t("table_per_community", lang), plan.communities_gdf()),
                               (t("table_per_grid", lang), plan.grids_gdf())):
            table = zone_summary(result, zones)
            st.subheader(heading)
            chart = pd.DataFrame({"zone": table["name"],
                                  "share": table[f"share_{category}"] * 100})
            st.bar_chart(chart, x="zone", y="share", height=220)
            shown = table.copy()
            for col in shown.columns:
                if col.startswith("share_"):
                    cid = col[6:]
                    label = (t("full_circle", lang) if cid == "full_circle"
                             else settings.category(cid).name(lang))
                    shown[label] = (shown.pop(col) * 100).round(1)
            st.dataframe(shown.rename(columns={"name": t("name", lang),
                                               "households": t("households", lang)}),
                         hide_index=True, width="stretch")
    with st.expander(t("load_report", lang)):
        report = study.report()
        report["item"] = [_tr(item, lang) for item in report["item"]]
        st.dataframe(report.rename(columns={"item": t("item", lang),
                                            "value": t("value", lang)}),
                     hide_index=True, width="stretch")
    with st.expander(t("household_rules", lang)):
        rules = study.household_report()
        rules["rule"] = [translate_message(r, r, {}, lang) for r in rules["rule"]]
        rules["residential"] = [t("yes" if v else "no", lang) for v in rules["residential"]]
        st.dataframe(rules.rename(columns={
            "rule": t("rule", lang), "buildings": t("col_buildings", lang),
            "households": t("households", lang), "residents": t("residents", lang),
            "residential": t("residential", lang)}),
            hide_index=True, width="stretch")
        mix = study.source_mix()
        mix["source"] = [t("hh_src_" + v.replace(" ", "_"), lang) for v in mix["source"]]
        mix["share"] = (mix["share"] * 100).round(1)
        st.caption(t("hh_source_mix", lang))
        st.dataframe(mix.rename(columns={
            "source": t("hh_source", lang), "homes": t("homes", lang),
            "households": t("households", lang), "share": t("share_pct", lang)}),
            hide_index=True, width="stretch")


@st.cache_data(show_spinner=False, max_entries=32)
def gaps_after(_study: Study, _result: CoverageResult, key: tuple, category: str,
               _what: WhatIf, changes: str) -> GapResult:
    """Return the gaps left after this session's scenario (``changes`` names it)."""
    scenario = Scenario("current", tuple(as_changes(json.loads(changes), _study.area.local_crs,
                                                    _result.facilities.index)))
    return find_gaps(result_after(_result, _what, scenario), category, load_settings())


def _gaps_map_click(study: Study, result: CoverageResult, category: str) -> None:
    """Act on a click on the gaps map (its callback: the map drawn next is new)."""
    ss = st.session_state
    value = ss.get("gaps_map") or {}
    prev, ss["gaps_map_prev"] = ss.get("gaps_map_prev") or {}, value
    # A marker click moves last_object_clicked (at the marker), a click elsewhere
    # last_clicked; the one that changed is this click.
    where = next((value[k] for k in ("last_object_clicked", "last_clicked")
                  if value.get(k) and value.get(k) != prev.get(k)), None)
    mode = ss.get("map_click", "look")
    if where is None or mode == "look":
        return
    try:
        done = apply_click(ss["changes"], ss.get("moving"), mode, float(where["lng"]),
                           float(where["lat"]), category=category,
                           facilities=result.facilities, access=result.access,
                           new_name=t("added_station", ss["lang"]))
    except GisError as err:
        ss["map_message"] = {"error": err}
    else:
        ss["changes"], ss["moving"] = done.rows, done.moving
        ss["map_message"] = {"key": done.key, "params": done.params}


@st.cache_data(show_spinner=False, max_entries=32)
def get_gaps(_study: Study, _result: CoverageResult, key: tuple, category: str) -> GapResult:
    """Return the gaps of ``category``; ``key`` stands in for the study and the result."""
    return find_gaps(_result, category, load_settings())


@st.cache_data(show_spinner=False, max_entries=32)
def get_site_circles(_result: CoverageResult, key: tuple, category: str, threshold_m: float,
                     sites: tuple) -> gpd.GeoSeries:
    """Return the service circle of each proposed site (x, y in the local CRS).

    Sites attach under the analysis' own access model, as plan_sites did.
    """
    fac = gpd.GeoDataFrame({"category": [category] * len(sites)},
                           geometry=gpd.points_from_xy([p[0] for p in sites],
                                                       [p[1] for p in sites]),
                           crs=_result.local_crs)
    return gpd.GeoSeries([category_circle(_result.access, fac.iloc[[i]], category,
                                          threshold_m, load_settings())
                          for i in range(len(fac))], crs=_result.local_crs)


def _what_if(study: Study, result: CoverageResult, category: str,
             settings: Settings) -> tuple[WhatIf, Delta | None]:
    """Replay this category's scenario changes; return the state and the last delta.

    A stored change that the current analysis refuses (e.g. a station that is too far
    from the streets under another snap limit) is dropped with a message, so the view
    always renders and its clear button stays reachable.
    """
    what = WhatIf(result, category, settings)
    mine = [c for c in st.session_state["changes"] if c["category"] == category]
    last = None
    changes = as_changes(mine, study.area.local_crs, result.facilities.index)
    for ch, change in zip(mine, changes, strict=True):
        try:
            last = what.apply(change)
        except GisError as err:
            st.session_state["changes"].remove(ch)
            show_error(err, st.session_state["lang"], headline_key="error_station_place")
    return what, last


def _proposal(study: Study, key: tuple,
              category: str) -> tuple[dict | None, gpd.GeoDataFrame | None]:
    """Return this session's site proposal and its sites, if made for this analysis."""
    proposal = st.session_state.get("proposal")
    if proposal is None or proposal["category"] != category or proposal["key"] != repr(key):
        return None, None
    pts = proposal["sites"]
    sites = gpd.GeoDataFrame({"rank": [p[2] for p in pts],
                              "gain_households": [p[3] for p in pts]},
                             geometry=gpd.points_from_xy([p[0] for p in pts],
                                                         [p[1] for p in pts]),
                             crs=study.area.local_crs)
    return proposal, sites


def gaps_view(study: Study, used: tuple, result: CoverageResult, settings: Settings,
              lang: str) -> None:
    """Draw the gaps and siting view."""
    category = st.session_state["category"]
    key = analysis_key(used, result)
    gaps = get_gaps(study, result, key, category)
    cat_name = settings.category(category).name(lang)
    total = int(result.homes.loc[result.homes["attached"], "households"].sum())
    cols = st.columns(3)
    cols[0].metric(f"{t('households_uncovered', lang)} · {cat_name}",
                   f"{gaps.households_uncovered:,}")
    cols[1].metric(t("homes_uncovered", lang), f"{len(gaps.homes):,}")
    cols[2].metric(t("gap_areas", lang), f"{len(gaps.areas):,}")

    # Site selection: a k slider and a Run button; the proposal is kept as plain values.
    c1, c2 = st.columns([3, 1])
    c1.slider(t("k_sites", lang), 1, 10, key="k")
    run = c2.button(t("run_sites", lang), key="run_sites", type="primary",
                    disabled=gaps.households_uncovered == 0)
    if run:
        with st.status(t("solving", lang), expanded=True) as status:
            try:
                plan = plan_sites(result, category, settings,
                                  k=int(st.session_state["k"]),
                                  progress=say_progress(status, lang))
            except GisError as err:
                status.update(label=str(err), state="error")
                plan = None
            else:
                status.update(label=t("solved", lang), state="complete")
        if plan is not None:
            st.session_state["proposal"] = {
                "category": category, "key": repr(key),
                "sites": [(float(p.x), float(p.y), int(r), float(g)) for p, r, g in
                          zip(plan.sites.geometry, plan.sites["rank"],
                              plan.sites["gain_households"], strict=True)],
                "before": plan.before, "after": plan.after,
                "greedy": plan.greedy.objective, "exact": plan.exact.objective,
                "optimal": plan.exact.optimal, "gap": plan.exact.mip_gap,
                "seconds": plan.exact.seconds}
    proposal, sites = _proposal(study, key, category)
    circles = None
    if proposal is not None:
        pts = proposal["sites"]
        circles = get_site_circles(result, key, category, result.thresholds[category].metres,
                                   tuple((p[0], p[1]) for p in pts))
        m1, m2, m3 = st.columns(3)
        m1.metric(t("covered_before_after", lang),
                  f"{proposal['before']:,} → {proposal['after']:,}",
                  f"+{proposal['after'] - proposal['before']:,}")
        m2.metric(t("greedy_preview", lang), f"{proposal['greedy']:,.0f}")
        quality = (t("optimal", lang) if proposal["optimal"]
                   else f"{t('not_optimal', lang)} {proposal['gap']:.2%}")
        m3.metric(t("exact_result", lang), f"{proposal['exact']:,.0f}",
                  f"{quality} · {proposal['seconds']:.2f} s", delta_color="off")
        if st.button(t("accept_proposals", lang), key="accept_proposals"):
            lonlat = sites.to_crs(WGS84)
            for (_x, _y, rank, _g), p in zip(pts, lonlat.geometry, strict=True):
                st.session_state["changes"].append(
                    {"action": "add", "category": category, "lon": p.x, "lat": p.y,
                     "name": f"{t('proposed_site', lang)} {rank}"})

    choice("radio", st, "map_click", t("map_click", lang), CLICK_MODES,
           lambda c: t(f"map_click_{c}", lang), horizontal=True,
           help=t("help_map_click", lang))
    if st.session_state["map_click"] != "move":
        st.session_state["moving"] = None
    shown_message = st.session_state.pop("map_message", None)
    if shown_message and "error" in shown_message:
        show_error(shown_message["error"], lang, headline_key="error_station_place")
    elif shown_message:
        st.info(t(shown_message["key"], lang, **shown_message["params"]))
    what, last = _what_if(study, result, category, settings)
    mine = [c for c in st.session_state["changes"] if c["category"] == category]
    added, closed = map_points(mine, category)
    shown = gaps
    if mine:
        # The gap map follows the scenario: the gaps left once its stations are in.
        shown = gaps_after(study, result, key, category, what, json.dumps(mine))
        st.caption(t("gaps_after_scenario", lang, n=len(shown.areas), before=len(gaps.areas),
                     hh=f"{int(shown.areas['households'].sum()) if len(shown.areas) else 0:,}"))
    moving = st.session_state.get("moving")
    picked = ((moving["lon"], moving["lat"]) if moving and moving.get("category") == category
              else None)
    parts = get_gaps_parts(study, result, shown, sites, circles, key, category, lang,
                           basemap_choice(settings), tuple(added), tuple(closed),
                           json.dumps(mine), repr(proposal and proposal["sites"]), picked)
    # The click is read in the map's callback: the map drawn after a change is a new
    # component, whose value would not hold the click.
    show_map(parts, key="gaps_map", height=620,
             returned_objects=["last_clicked", "last_object_clicked"], focus=take_focus(),
             on_change=functools.partial(_gaps_map_click, study, result, category))

    st.subheader(t("scenario", lang))
    if not mine:
        st.caption(t("no_changes", lang))
    else:
        base_cov = int(result.homes.loc[result.homes[f"covered_{category}"],
                                        "households"].sum())
        s1, s2 = st.columns(2)
        if last is not None:
            s1.metric(t("last_change", lang), f"+{last.households_gained:,}",
                      f"-{last.households_lost:,}" if last.households_lost else None)
        s2.metric(t("scenario_effect", lang),
                  f"{what.households_covered / total * 100:.1f} %" if total else "—",
                  f"{what.households_covered - base_cov:+,}")
        st.text_input(t("scenario_name", lang), key="scenario_name",
                      placeholder=t("scenario_default", lang))
        b1, b2, b3 = st.columns(3)
        if b1.button(t("save_scenario", lang), key="save_scenario"):
            _save_scenario(study, lang)
        if b2.button(t("undo_change", lang), key="undo_change"):
            st.session_state["changes"].remove(mine[-1])
            st.session_state["moving"] = None
            st.rerun()
        if b3.button(t("clear_scenario", lang), key="clear_scenario"):
            st.session_state["changes"] = []
            st.session_state["moving"] = None
            st.rerun()

    compare_block(study, result, settings, lang)

    st.subheader(t("gap_table", lang))
    if len(gaps.areas) == 0:
        st.success(t("no_gaps", lang))
    else:
        table = gaps.areas.drop(columns=gaps.areas.geometry.name).copy()
        table["extra_min"] = table["extra_min"].round(1)
        table["nearest_dist_m"] = table["nearest_dist_m"].round(0)
        st.dataframe(table.rename(columns={
            "gap_id": t("gap_id", lang), "homes": t("homes", lang),
            "households": t("households_uncovered", lang),
            "nearest_facility": t("nearest_facility", lang),
            "nearest_dist_m": t("nearest_dist", lang),
            "extra_min": f"{t('extra_walk', lang)} ({t('minutes_unit', lang)})"}),
            hide_index=True, width="stretch")


def project_file(kind: str) -> Path:
    """Return the project file this session works on: its own copy, else the shared one.

    ``kind`` is "scenarios" (the project GeoPackage of scenarios) or "grids" (the grid
    project). A planner who opens or starts a file of their own works on it alone; the
    shared path (``SERVICE_CIRCLE_PROJECT`` / ``SERVICE_CIRCLE_GRIDS``) is the default.
    """
    own = st.session_state.get(f"own_{kind}_project")
    if own:
        return Path(own)
    return PROJECT_PATH if kind == "scenarios" else GRID_PROJECT_PATH


def project_file_box(kind: str, settings: Settings, lang: str) -> None:
    """Open, start, and download this session's own project file (open / save as)."""
    path = project_file(kind)
    own = bool(st.session_state.get(f"own_{kind}_project"))
    with st.expander(t("own_project", lang)):
        st.caption(t("own_project_mine" if own else "own_project_shared", lang,
                     name=path.name))
        c1, c2 = st.columns(2)
        if path.exists():
            c1.download_button(t("download_project", lang), path.read_bytes(),
                               file_name=path.name if own else f"{kind}_project.gpkg",
                               mime="application/geopackage+sqlite3",
                               key=f"download_{kind}_project")
        if c2.button(t("new_own_project", lang), key=f"new_{kind}_project"):
            folder = session_upload_dir() / "projects"
            folder.mkdir(parents=True, exist_ok=True)
            st.session_state[f"own_{kind}_project"] = str(folder / f"{kind}_project.gpkg")
            st.rerun()
        up = uploader(f"{kind}_project_upload", t("upload_project", lang), type=["gpkg"])
        if up is not None:
            folder = session_upload_dir() / "projects"
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / Path(up.name).name  # type: ignore[attr-defined]
            if str(target) != st.session_state.get(f"own_{kind}_project"):
                target.write_bytes(up.getvalue())  # type: ignore[attr-defined]
                st.session_state[f"own_{kind}_project"] = str(target)
                st.rerun()


def study_id(study: Study) -> str:
    """Return the name scenarios are filed under: the study area's file or place name."""
    return Path(study.source).name if Path(study.source).suffix else study.source


def saved_scenarios(study: Study, result: CoverageResult, lang: str) -> list[Scenario]:
    """Return the scenarios saved in the project file (none, with a message if unreadable)."""
    if not project_file("scenarios").exists():
        return []
    try:
        return load_scenarios(project_file("scenarios"), crs=study.area.local_crs,
                              facility_index=result.facilities.index, study=study_id(study))
    except GisError as err:
        show_error(err, lang)
        return []


def compare_block(study: Study, result: CoverageResult, settings: Settings,
                  lang: str) -> None:
    """Compare two saved scenarios (or the current state) side by side."""
    saved = saved_scenarios(study, result, lang)
    if not saved:
        return
    options = {t("scenario_current", lang): Scenario(t("scenario_current", lang))}
    options.update({sc.name: sc for sc in saved})
    with st.expander(t("compare_scenarios", lang)):
        c1, c2 = st.columns(2)
        a = c1.selectbox("A", list(options), key="compare_a")
        b = c2.selectbox("B", list(options), index=len(options) - 1, key="compare_b")
        table = get_comparison(result, analysis_key(st.session_state["good_inputs"], result),
                               options[a], options[b]).copy()
        table["category"] = [settings.category(c).name(lang) for c in table["category"]]
        table = table.drop(columns="zone").rename(columns={
            "category": t("col_category", lang), "households_a": f"A · {a}",
            "households_b": f"B · {b}", "difference": t("difference", lang)})
        diff_col = t("difference", lang)
        st.dataframe(table.style.map(
            lambda v: "background-color:#c7e9c0" if v > 0 else
            "background-color:#fcbba1" if v < 0 else "", subset=[diff_col]),
            hide_index=True, width="stretch")


@st.cache_data(show_spinner=False, max_entries=32)
def get_comparison(_result: CoverageResult, key: tuple, a: Scenario, b: Scenario
                   ) -> pd.DataFrame:
    """Return the comparison of two scenarios, computed once per analysis and pair."""
    return compare_scenarios(_result, load_settings(), a, b)


def scenarios_view(study: Study, result: CoverageResult, settings: Settings,
                   lang: str) -> None:
    """Draw the scenarios view: the saved scenarios, their changes, and a comparison."""
    project_file_box("scenarios", settings, lang)
    saved = saved_scenarios(study, result, lang)
    if not saved:
        st.info(t("no_scenarios", lang))
        return
    rows = [{t("scenario", lang): sc.name, t("col_category", lang):
             settings.category(ch.category).name(lang),
             t("change", lang): t(f"scenario_{ch.action}", lang, default=ch.action),
             t("name", lang): ch.name} for sc in saved for ch in sc.changes]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    manage_scenarios(study, saved, lang)
    compare_block(study, result, settings, lang)


def manage_scenarios(study: Study, saved: list[Scenario], lang: str) -> None:
    """Open a saved scenario into the gaps view, rename it or delete it (under the lock)."""
    names = [sc.name for sc in saved]
    st.subheader(t("manage_scenarios", lang))
    c1, c2, c3 = st.columns([2, 2, 1])
    chosen = c1.selectbox(t("scenario", lang), names, key="scenario_pick")
    sc = next(s for s in saved if s.name == chosen)
    if c3.button(t("open_scenario", lang), key="scenario_open"):
        # Its changes become the current scenario of the gaps view, editable again.
        changes = as_rows(sc.changes, study.facilities)
        adds = [c for c in changes if c["action"] == "add"]
        st.session_state["changes"] = changes
        st.session_state["scenario_name"] = sc.name
        st.success(t("scenario_opened", lang, name=sc.name, n=len(adds)))
    new_name = c2.text_input(t("new_name", lang), key="scenario_new_name")
    r1, r2 = st.columns(2)
    try:
        if r1.button(t("rename_scenario", lang), key="scenario_rename",
                     disabled=not new_name.strip()):
            rename_scenario(project_file("scenarios"), chosen, new_name.strip(),
                            study=study_id(study))
            st.rerun()
        if r2.button(t("delete_scenario", lang), key="scenario_delete"):
            delete_scenario(project_file("scenarios"), chosen, study=study_id(study))
            st.rerun()
    except (GisError, OSError) as err:
        show_error(err, lang)


def _save_scenario(study: Study, lang: str) -> None:
    """Save the scenario's changes into the project GeoPackage (atomic)."""
    name = st.session_state["scenario_name"] or t("scenario_default", lang)
    scenario = Scenario(name, tuple(as_changes(st.session_state["changes"], study.area.local_crs,
                                               study.facilities.index)))
    try:
        # Under the project's lock: another planner's scenarios saved meanwhile are kept.
        path = save_scenarios(project_file("scenarios"), [scenario], crs=study.area.local_crs,
                              study=study_id(study))
    except (GisError, OSError) as err:
        show_error(err, lang)
    else:
        st.success(f"{t('saved_to', lang)} {path}")


@st.cache_resource(show_spinner=False, max_entries=8)
def get_blocks(_study: Study, key: tuple, rules_key: tuple) -> Blocks:
    """Return the street blocks of the study for these grid rules (never mutated)."""
    return make_blocks(_study.streets, _study.homes, _rules_from_key(rules_key))


def _rules_key() -> tuple:
    ss = st.session_state
    return (int(ss["grid_target"]), int(ss["grid_min"]), int(ss["grid_max"]),
            int(ss["comm_target"]))


def _rules_from_key(key: tuple) -> GridRules:
    from dataclasses import replace

    base = load_settings().grids
    return replace(base, target_households=key[0], min_households=key[1],
                   max_households=key[2], community_target_households=key[3])


def _grid_edit(editor: GridEditor, outcome: EditResult) -> None:
    """Keep an edit's result: push the old state for undo, show the message."""
    ss = st.session_state
    if outcome.ok:
        ss["grid_undo"].append(ss["grid_state"])
        ss["grid_redo"] = []
        ss["grid_state"] = editor.plan.to_state()
        ss["grid_history"] = editor.history
    ss["grid_message"] = {
        "ok": outcome.ok,
        "text": [str(outcome.message), getattr(outcome.message, "key", None),
                 getattr(outcome.message, "params", {})],
        "warnings": [[str(w), getattr(w, "key", None), getattr(w, "params", {})]
                     for w in outcome.warnings]}


def _step_back(source: str, target: str, action: str) -> None:
    """Undo (or redo): restore the last state of ``source``, keep the current in ``target``."""
    ss = st.session_state
    ss[target].append(ss["grid_state"])
    ss["grid_state"] = ss[source].pop()
    ss["grid_history"] = [*ss["grid_history"], {
        "time": pd.Timestamp.now().isoformat(timespec="seconds"), "action": action,
        "detail": ""}]
    # The banner now says what happened (it still described the edit just undone).
    key, text = (("undone", "The last edit was undone.") if action == "undo"
                 else ("redone", "The undone edit was done again."))
    ss["grid_message"] = {"ok": True, "text": [text, key, {}], "warnings": []}
    st.rerun()


def _grid_map_click(study: Study, used: tuple) -> None:
    """Act on a click on the grids map: select the block, or move the selected one there.

    In "move" mode a click on a block of another grid moves the selected block into that
    grid (checked and undoable like every edit); a click in its own grid selects.
    """
    ss = st.session_state
    value = ss.get("grids_map") or {}
    block = ((value.get("last_active_drawing") or {}).get("properties") or {}).get("block_id")
    if ss["grid_state"] is None or block is None:
        return
    plan = _current_plan(study, used)
    if plan is None:
        return
    ids = list(plan.blocks.ids)
    if block not in ids:
        return
    chosen = ss.get("edit_block")
    if ss.get("grid_click") == "move" and chosen in ids:
        into = int(plan.grid[ids.index(block)])
        if into != int(plan.grid[ids.index(chosen)]):
            editor = GridEditor(plan, ss["grid_history"])
            _grid_edit(editor, editor.move_blocks([chosen], into))
            return
    ss["edit_block"] = block


def grids_view(study: Study, used: tuple, settings: Settings, lang: str) -> None:
    """Draw the communities and grids view: generate, look, edit, undo, save, export."""
    ss = st.session_state
    c = st.columns(4)
    c[0].number_input(t("grid_target", lang), 10, 5000, step=10, key="grid_target")
    c[1].number_input(t("grid_min", lang), 1, 5000, step=10, key="grid_min")
    c[2].number_input(t("grid_max", lang), 10, 10000, step=10, key="grid_max")
    c[3].number_input(t("comm_target", lang), 100, 50000, step=100, key="comm_target")
    # A row of its own: in a fifth column its English label was cut.
    generate = st.button(t("generate_grids", lang), key="grid_generate", type="primary")
    project_file_box("grids", settings, lang)
    o1, o2 = st.columns(2)
    if o1.button(t("open_project", lang), key="grid_open",
                 disabled=not project_file("grids").exists()):
        try:
            plan, history = load_project(project_file("grids"))
        except GisError as err:
            show_error(err, lang)
        else:
            r = plan.rules
            ss["grid_rules"] = (r.target_households, r.min_households, r.max_households,
                                r.community_target_households)
            ss["grid_state"] = plan.to_state()
            ss["grid_history"] = history
            ss["grid_undo"], ss["grid_redo"] = [], []
            digest = hashlib.sha1(project_file("grids").read_bytes()).hexdigest()
            opened_blocks()[digest] = plan.blocks
            ss["grid_blocks"] = (repr(used), digest)
    if generate:
        key = _rules_key()
        try:
            with st.spinner(t("generate_grids", lang)):
                blocks = get_blocks(study, used, key)
                plan = plan_grids(blocks, _rules_from_key(key), lang=lang)
        except GisError as err:
            show_error(err, lang)
        else:
            ss["grid_rules"] = key
            ss["grid_state"] = plan.to_state()
            ss["grid_undo"], ss["grid_redo"] = [], []
            ss["grid_history"] = [{"time": pd.Timestamp.now().isoformat(timespec="seconds"),
                                   "action": "generate", "detail": str(key)}]
            ss["grid_blocks"] = None
    if ss["grid_state"] is None:
        st.info(t("no_plan", lang))
        return
    rules = _rules_from_key(ss["grid_rules"])
    plan = GridPlan.from_state(_session_blocks(study, used), rules, ss["grid_state"])
    editor = GridEditor(plan, ss["grid_history"])
    grids = plan.grids_gdf()
    m = st.columns(3)
    m[0].metric(t("n_communities", lang), len(plan.communities_gdf()))
    m[1].metric(t("n_grids", lang), len(grids))
    m[2].metric(t("grids_out_of_range", lang), int((grids["flag"] != "").sum()))
    msg = ss["grid_message"]
    if msg:
        (st.success if msg["ok"] else st.error)(translate_message(*msg["text"], lang))
        for w in msg["warnings"]:
            st.warning(translate_message(*w, lang))
    choice("radio", st, "grid_click", t("grid_click", lang), GRID_CLICKS,
           lambda c: t(f"grid_click_{c}", lang), horizontal=True,
           help=t("help_grid_click", lang))
    selected = ss.get("edit_block")
    targets = (editor.block_neighbour_grids(selected)
               if ss["grid_click"] == "move" and selected in set(plan.blocks.ids) else [])
    # The click is read in the map's callback: the map drawn after it (the block
    # highlighted) is a new component, whose value would not hold the click.
    st_folium(grids_map(plan, lang=lang, basemap=basemap_choice(settings),
                        streets=study.streets, selected=selected, targets=targets),
              key="grids_map", height=600, use_container_width=True,
              returned_objects=["last_active_drawing", "last_object_clicked"], **take_focus(),
              on_change=functools.partial(_grid_map_click, study, used))

    with st.expander(t("edit", lang), expanded=True):
        names = plan.grid_names
        labels = sorted(names)

        def label_of(g: int) -> str:
            return names.get(g, str(g))

        e1, e2, e3 = st.columns([2, 2, 1])
        ids = list(plan.blocks.ids)
        named = block_labels(plan, lang)
        e1.selectbox(t("block", lang), ids, key="edit_block",
                     format_func=lambda b: named.get(b, b))
        # Only the grids the block touches: a move elsewhere is always refused.
        targets = editor.block_neighbour_grids(ss["edit_block"])
        if ss.get("edit_to") not in targets:
            ss["edit_to"] = targets[0] if targets else None
        e2.selectbox(t("to_grid", lang), targets, key="edit_to", format_func=label_of,
                     placeholder=t("no_neighbour_grid", lang))
        if e3.button(t("move", lang), key="grid_move", disabled=not targets):
            _grid_edit(editor, editor.move_blocks([ss["edit_block"]], int(ss["edit_to"])))
            st.rerun()
        f1, f2, f3 = st.columns([2, 2, 1])
        f1.selectbox(t("merge", lang), labels, key="merge_a", format_func=label_of)
        # The second grid from the first one's neighbours (the old default pair was
        # always refused: two grids that share no street).
        partners = editor.neighbour_grids(int(ss["merge_a"]))
        if ss.get("merge_b") not in partners:
            ss["merge_b"] = partners[0] if partners else None
        f2.selectbox("+", partners, key="merge_b", format_func=label_of)
        if f3.button(t("merge", lang), key="grid_merge", disabled=not partners):
            _grid_edit(editor, editor.merge(int(ss["merge_a"]), int(ss["merge_b"])))
            st.rerun()
        g1, g2, g3 = st.columns([2, 2, 1])
        g1.selectbox(t("split", lang), labels, key="split_g", format_func=label_of)
        if g3.button(t("split", lang), key="grid_split"):
            _grid_edit(editor, editor.split(int(ss["split_g"])))
            st.rerun()
        h1, h2, h3 = st.columns([2, 2, 1])
        h1.selectbox(t("rename", lang), labels, key="rename_g", format_func=label_of)
        h2.text_input(t("new_name", lang), key="rename_to")
        if h3.button(t("rename", lang), key="grid_rename"):
            _grid_edit(editor, editor.rename(int(ss["rename_g"]), ss["rename_to"]))
            st.rerun()
        w1, w2, w3, w4 = st.columns([2, 1, 1, 1])
        w1.selectbox(t("set_worker", lang), labels, key="worker_g", format_func=label_of)
        w2.text_input(t("worker_name", lang), key="worker_name")
        w3.text_input(t("worker_phone", lang), key="worker_phone")
        if w4.button(t("set", lang), key="grid_worker"):
            _grid_edit(editor, editor.set_worker(int(ss["worker_g"]), ss["worker_name"],
                                                 ss["worker_phone"]))
            st.rerun()
        u1, u2, u3 = st.columns(3)
        if u1.button(t("undo", lang), key="grid_undo_btn", disabled=not ss["grid_undo"]):
            _step_back("grid_undo", "grid_redo", "undo")
        if u2.button(t("redo", lang), key="grid_redo_btn", disabled=not ss["grid_redo"]):
            _step_back("grid_redo", "grid_undo", "redo")
        if u3.button(t("save_project", lang), key="grid_save"):
            try:
                path = save_project(project_file("grids"), plan, ss["grid_history"])
            except (GisError, OSError) as err:
                show_error(err, lang)
            else:
                st.success(f"{t('saved_to', lang)} {path}")

    st.subheader(t("households_per_grid", lang))
    chart = pd.DataFrame({"grid": grids["name"], "households": grids["households"]})
    st.altair_chart(_range_chart(chart, rules), width="stretch")
    table = pd.DataFrame(grids.drop(columns="geometry"))
    table["compactness"] = table["compactness"].round(3)
    table["deviation"] = (table["deviation"] * 100).round(1)
    table["area_m2"] = table["area_m2"].round(0).astype(int)
    table["flag"] = [translate_message(f, f, {}, lang) if f else "" for f in table["flag"]]
    col = 0 if lang == "zh" else 1
    st.dataframe(table.drop(columns=["label"]).rename(
        columns={k: v[col] for k, v in FIELD_ALIASES.items()}), hide_index=True,
        width="stretch")
    _exports(plan, lang)
    with st.expander(t("edit_history", lang)):
        rows = [{t("time", lang): h.get("time", ""),
                 t("action", lang): t(f"action_{h.get('action', '')}", lang,
                                      default=h.get("action", "")),
                 t("detail", lang): translate_message(
                     h.get("detail", ""), h.get("key") or None,
                     json.loads(h["params"]) if h.get("params") else {}, lang)}
                for h in ss["grid_history"]]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if plan.blocks.notes:
        with st.expander(t("block_notes", lang)):
            for note in plan.blocks.notes:
                st.write(_tr(note, lang))


class _OpenedBlocks(OrderedDict):
    """Blocks of opened project files by file digest, the last few kept (immutable)."""

    def __setitem__(self, key: str, value: Blocks) -> None:
        super().__setitem__(key, value)
        while len(self) > 32:
            self.popitem(last=False)


@st.cache_resource(show_spinner=False)
def opened_blocks() -> _OpenedBlocks:
    """Return the blocks of project files opened on this server, by content digest.

    Keyed by the file's content, not by the study, so one planner opening a project never
    changes the blocks another session works on; each session keeps its own digest.
    """
    return _OpenedBlocks()


def _session_blocks(study: Study, used: tuple) -> Blocks:
    """Return the blocks this session's plan stands on: an opened project's, or generated."""
    ss = st.session_state
    mine = ss.get("grid_blocks")
    if mine is not None and mine[0] == repr(used) and mine[1] in opened_blocks():
        return opened_blocks()[mine[1]]
    return get_blocks(study, used, ss["grid_rules"])


def _range_chart(chart: pd.DataFrame, rules: GridRules) -> object:
    import altair as alt

    bars = alt.Chart(chart).mark_bar().encode(
        x=alt.X("grid:N", sort=None, title=None), y=alt.Y("households:Q", title=None),
        color=alt.condition((alt.datum.households < rules.min_households)
                            | (alt.datum.households > rules.max_households),
                            alt.value("#d7301f"), alt.value("#4c78a8")))
    lines = alt.Chart(pd.DataFrame({"y": [rules.min_households, rules.max_households]})
                      ).mark_rule(strokeDash=[6, 4], color="#555").encode(y="y:Q")
    return bars + lines


def _exports(plan: GridPlan, lang: str) -> None:
    """Download buttons: zones without personal data, and the grid table."""
    with st.expander(t("exports", lang)):
        st.checkbox(t("with_workers", lang), key="with_workers")
        cols = st.columns(4)
        names = {"gpkg": "grids.gpkg", "geojson": "grids.geojson", "shp": "grids.zip",
                 "xlsx": "grids.xlsx"}
        workers = bool(st.session_state["with_workers"])
        for col, (fmt, name) in zip(cols, names.items(), strict=True):
            # Written only when the user clicks (not on every rerun).
            col.download_button(t(f"download_{fmt}", lang),
                                functools.partial(_grid_export_bytes, plan, fmt, name, workers),
                                file_name=name, key=f"download_{fmt}")


def _grid_export_bytes(plan: GridPlan, fmt: str, name: str, with_workers: bool) -> bytes:
    """Return one grid export as bytes (zones without personal data, or the table)."""
    with tempfile.TemporaryDirectory() as d:
        if fmt == "xlsx":
            path = export_grid_table(plan, Path(d) / name, with_workers=with_workers)
        else:
            path = export_zones(plan, Path(d) / name, fmt=fmt)
        return path.read_bytes()



def standards_block(result: CoverageResult, settings: Settings, lang: str,
                    plan: GridPlan | None) -> None:
    """Show the standards checklist: attainment per zone, the shortfall list, XLSX."""
    st.subheader(t("standards", lang))
    try:
        standards = load_standards(None, settings)
        zones = ({"community": plan.communities_gdf(), "grid": plan.grids_gdf()}
                 if plan is not None else None)
        report = check_standards(result, standards, zones)
    except GisError as err:
        show_error(err, lang)
        return
    zh = lang == "zh"
    att = report.attainment.copy()
    att["attainment_rate"] = (att["attainment_rate"] * 100).round(1)
    att["zone_kind"] = [t(f"zone_{k}", lang) for k in att["zone_kind"]]
    att["zone"] = [zone_label(z, lang) for z in att["zone"]]
    st.dataframe(att.rename(columns={
        "zone_kind": t("zone_kind", lang), "zone": t("name", lang),
        "households": t("households", lang), "rules": t("rules_required", lang),
        "passed": t("rules_passed", lang), "attainment_rate": t("attainment", lang) + " %"}),
        hide_index=True, width="stretch")
    short = report.shortfall.head(20)
    st.caption(t("shortfall", lang))
    st.dataframe(pd.DataFrame({
        t("name", lang): [zone_label(z, lang) for z in short["zone"]],
        t("level", lang): short["level_zh" if zh else "level_en"],
        t("facility_type", lang): short["type_zh" if zh else "type_en"],
        t("households_not_reached", lang): short["households_not_reached"]}),
        hide_index=True, width="stretch")
    st.download_button(t("download_standards", lang),
                       functools.partial(_xlsx_bytes, report.sheets()),
                       file_name="standards.xlsx", key="download_standards")


def _xlsx_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """Return an XLSX workbook of ``sheets`` as bytes."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf) as writer:
        for sheet, table in sheets.items():
            table.to_excel(writer, sheet_name=sheet, index=False)
    return buf.getvalue()


def _current_plan(study: Study, used: tuple) -> GridPlan | None:
    """Return the grid plan of this session, if one was generated or opened."""
    ss = st.session_state
    if ss.get("grid_state") is None:
        return None
    return GridPlan.from_state(_session_blocks(study, used), _rules_from_key(ss["grid_rules"]),
                               ss["grid_state"])


def report_view(study: Study, used: tuple, result: CoverageResult, circle: object,
                settings: Settings, lang: str) -> None:
    """Draw the report view: the meeting report and every export, ready to download."""
    category = st.session_state["category"]
    st.caption(t("report_note", lang))
    key = analysis_key(used, result)
    gaps = get_gaps(study, result, key, category)
    plan = _current_plan(study, used)
    communities = plan.communities_gdf() if plan is not None else None
    _unused, sites = _proposal(study, key, category)
    # The report stays in the session for this analysis, category, language and plan, so
    # a download (which reruns the page) does not make the preview disappear.
    report_key = (key, category, lang, json.dumps(st.session_state.get("grid_state")),
                  repr(sites["rank"].tolist()) if sites is not None else "")
    kept = st.session_state.get("report")
    report = kept[1] if kept is not None and kept[0] == report_key else None
    if st.button(t("make_report", lang), key="make_report", type="primary"):
        with st.spinner(t("make_report", lang)):
            try:
                checked = check_standards(result, load_standards(None, settings),
                                          {"community": communities}
                                          if communities is not None else None)
                attainment, shortfall = checked.attainment, checked.shortfall
            except GisError:
                attainment = shortfall = None
            report = meeting_report(result, settings, category, lang=lang, circle=circle,
                                    communities=communities, gaps=gaps.areas, sites=sites,
                                    study_name=study.name, attainment=attainment,
                                    shortfall=shortfall, streets=study.streets)
        st.session_state["report_ready"] = True
        st.session_state["report"] = (report_key, report)
    if report is not None:
        c1, c2 = st.columns(2)
        c1.download_button(t("download_pdf", lang), report.pdf, file_name="report.pdf",
                           mime="application/pdf", key="download_pdf")
        c2.download_button(t("download_png", lang), report.png, file_name="map.png",
                           mime="image/png", key="download_png")
        st.image(report.png)
    standards_block(result, settings, lang, plan)
    st.subheader(t("exports", lang))
    e = st.columns(4)
    # Every export is made when its button is clicked, not on each rerun.
    e[0].download_button(t("download_html", lang),
                         functools.partial(_html_bytes, result, category, settings, circle,
                                           lang, study.streets),
                         file_name="coverage_map.html", mime="text/html",
                         key="download_html")
    layers = {"homes": result.homes, "facilities": result.facilities,
              "gap_areas": gaps.areas}
    if plan is not None:
        layers["communities"] = communities
        layers["grids"] = plan.grids_gdf(with_workers=False)
    e[1].download_button(t("download_layers", lang),
                         functools.partial(_gpkg_bytes, result, layers),
                         file_name="service_circles.gpkg", key="download_layers")
    e[2].download_button(t("download_csv", lang), functools.partial(_csv_bytes, result),
                         file_name="homes_coverage.csv", mime="text/csv",
                         key="download_csv")
    sheets = {"summary": summary_table(area_summary(result), settings, lang)}
    if communities is not None:
        sheets["communities"] = zone_summary(result, communities)
    e[3].download_button(t("download_table_xlsx", lang), functools.partial(_xlsx_bytes, sheets),
                         file_name="coverage.xlsx", key="download_table_xlsx")


def _html_bytes(result: CoverageResult, category: str, settings: Settings, circle: object,
                lang: str, streets: gpd.GeoDataFrame | None = None) -> bytes:
    """Return the standalone offline HTML map (the area's own streets and names drawn)."""
    fmap = coverage_map(result, category, settings, circle=circle, lang=lang, basemap="none",
                        streets=streets)
    return standalone_html(fmap).encode("utf-8")


def _gpkg_bytes(result: CoverageResult, layers: dict[str, object]) -> bytes:
    """Return the GeoPackage of every layer and the summary."""
    with tempfile.TemporaryDirectory() as d:
        gpkg = write_gpkg_atomic(Path(d) / "layers.gpkg",
                                 {**layers, "summary": area_summary(result)})
        return gpkg.read_bytes()


def _csv_bytes(result: CoverageResult) -> bytes:
    """Return the homes table as UTF-8 CSV (with a BOM, for Excel)."""
    table = pd.DataFrame(result.homes.drop(columns=result.homes.geometry.name))
    return table.to_csv(index=False).encode("utf-8-sig")


main()
