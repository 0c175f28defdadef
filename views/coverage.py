"""The coverage view: walking time to each category on the map, summary per zone."""

from __future__ import annotations

import functools
import importlib

import pandas as pd
import streamlit as st

from gis.analysis.coverage import (
    CoverageResult,
    households_served,
    zone_summary,
)
from gis.settings import Settings, load_settings
from gis.study import Study
from gis.zoning.plan import GridPlan
from layers.base import MapParts, map_parts, overlay_script
from layers.coverage import category_layers, coverage_base_map
from layers.grids import communities_layer, grids_layer
from layers.i18n import percent, t, translate_message
from layers.tables import summary_table
from views.grid_plan import plan_key
from views.places import place_choices
from views.state import ahead_work, analysis_key, circle_jobs, ready_circle
from views.widgets import basemap_choice, show_map, take_focus, tr


def _map_key(result: CoverageResult, lang: str, settings: Settings) -> tuple:
    """Return what identifies this session's category layers (see :func:`_map_key_of`)."""
    return _map_key_of(st.session_state["good_inputs"], result, st.session_state["gates"],
                       lang, basemap_choice(settings))


def _map_key_of(used: tuple, result: CoverageResult, gates: str, lang: str,
                basemap: object) -> tuple:
    """Return what identifies a category's layers: the analysis, language, tiles."""
    return (*analysis_key(used, result, gates), lang, repr(basemap))


def _base_key(lang: str, settings: Settings) -> tuple:
    """Return what identifies this session's drawn coverage map (see :func:`_base_key_of`)."""
    return _base_key_of(st.session_state["good_inputs"], st.session_state["gates"], lang,
                        basemap_choice(settings))


def _base_key_of(used: tuple, gates: str, lang: str, basemap: object) -> tuple:
    """Return what identifies the drawn coverage map: the study, gates, language, tiles.

    No threshold or walking profile: the homes carry distances, and a category's layers
    give the speed they are shown at, so a new profile keeps the drawn map.
    """
    return (used, gates, lang, repr(basemap))


def warm_coverage(study: Study, used: tuple, result: CoverageResult, settings: Settings,
                  new: dict[str, object]) -> None:
    """Draw what a new session's coverage view shows first, into the shared caches.

    The server's warm-up (views.serve) calls it with a new session's defaults
    (``views.state.session_defaults``: gates, tiles, language and category; no grid
    plan): the drawn map, the place finder's names, and the category's circle and layers,
    under the keys the session will ask for them by.

    Parameters
    ----------
    study
        The default study area.
    used
        Its inputs (the session's ``good_inputs``).
    result
        Its coverage at the default threshold and walking profile.
    settings
        The app's settings.
    new
        A new session's state.
    """
    gates, basemap, lang = str(new["gates"]), str(new["basemap"]), str(new["lang"])
    category = str(new["category"])
    # The circle is drawn on the circles' thread meanwhile (GEOS, without the GIL).
    circle_jobs().job(study, used, category, result.thresholds[category].metres)
    get_coverage_base(study, result, _base_key_of(used, gates, lang, basemap), lang, basemap,
                      None, "")
    place_choices(study, used, "", lang)
    _prepare_category(study, used, result, _map_key_of(used, result, gates, lang, basemap),
                      category, lang)


@st.cache_resource(show_spinner=False, max_entries=16)
def get_coverage_base(_study: Study, _result: CoverageResult, key: tuple, lang: str,
                      basemap: str | tuple[str, str, str], _plan: GridPlan | None,
                      plan_key: str) -> MapParts:
    """Return the drawn part of the coverage map no category changes (shared, immutable).

    Streets, homes with every category's distance, legend and control, rendered once
    per study area, gate choice, language and tiles (``key``) for every session: the
    homes' distances are the same under every threshold and walking profile. With a grid plan
    (``plan_key`` names its state), its community boundaries and grids are layers the
    user can switch on.
    """
    settings = load_settings()
    extra = ([communities_layer(_plan, lang=lang), grids_layer(_plan, lang=lang, show=False)]
             if _plan is not None else [])
    return map_parts(coverage_base_map(_result, settings, lang=lang, basemap=basemap,
                                       extra_layers=extra, streets=_study.streets))


@st.cache_resource(show_spinner=False, max_entries=128)
def get_category_layers(_result: CoverageResult, key: tuple, category: str, _circle: object,
                        with_circle: bool, lang: str) -> str:
    """Return the script of one category's layers for the drawn map (shared text).

    The circle (once drawn: ``with_circle``), the facilities and the homes' colours of
    ``category``: all a switch of category sends to the browser. The households within
    each facility's circle (its tooltip) come with the circle: until it is drawn, the
    switch does not wait for them either.
    """
    settings = load_settings()
    served = households_served(_result, category) if with_circle else None
    return overlay_script(category_layers(_result, category, settings,
                                          circle=_circle if with_circle else None, lang=lang,
                                          served=served))


def _prepare_category(study: Study, used: tuple, result: CoverageResult, key: tuple,
                      category: str, lang: str) -> None:
    """Draw a category's circle and render its layers into the shared caches."""
    circle = circle_jobs().here(study, used, category, result.thresholds[category].metres)
    get_category_layers(result, key, category, circle, True, lang)


def _coverage_map(study: Study, result: CoverageResult, settings: Settings, lang: str,
                  plan: GridPlan | None, circle: object, drawn: bool) -> None:
    """Draw the coverage map; without its circle yet, look again until it is drawn.

    Run as a fragment that reruns itself every :data:`LOOK_AGAIN_S` while the circle is
    being drawn, then reruns the page once (which stops the looking).
    """
    category = st.session_state["category"]
    used = st.session_state["good_inputs"]
    if not drawn:
        circle, drawn = ready_circle(study, used, category,
                                     result.thresholds[category].metres, wait_s=0.0)
        if drawn:
            st.rerun()
    # The map is drawn once per study area and gate choice; a category or walking profile
    # sends only its own layers (circle, facilities, the homes' colours and speed),
    # rendered once for every session.
    drawn_plan = plan_key() if plan is not None else ""
    base = get_coverage_base(study, result, _base_key(lang, settings), lang,
                             basemap_choice(settings), plan, drawn_plan)
    layers = get_category_layers(result, _map_key(result, lang, settings), category, circle,
                                 drawn, lang)
    show_map(base, key="map", height=620, focus=take_focus(), overlay=layers)
    if not drawn:
        st.caption(t("circle_drawing", lang))


#: While a circle is being drawn, the map looks for it this often (seconds).
LOOK_AGAIN_S = 0.5


def coverage_view(study: Study, result: CoverageResult, summary: pd.DataFrame,
                  settings: Settings, lang: str, *, plan: GridPlan | None = None) -> None:
    """Draw the coverage view: headline numbers, map and tables.

    With a grid plan in the session, also a table and chart per community and per grid.
    """
    category = st.session_state["category"]
    row = summary.set_index("category")
    # One container above the map, whatever it holds: the map keeps its place in the
    # page (a component that moves is mounted again, and the drawn map was lost).
    with st.container():
        cols = st.columns(4)
        cols[0].metric(f"{t('share_covered', lang)} · {settings.category(category).name(lang)}",
                       percent(row.loc[category, "share_covered"], lang))
        cols[1].metric(t("full_circle", lang),
                       percent(row.loc["full_circle", "share_covered"], lang))
        cols[2].metric(t("households", lang), f"{int(row.loc[category, 'households']):,}")
        cols[3].metric(t("left_out", lang),
                       f"{int(row.loc[category, 'households_left_out']):,}")
        if row.loc[category, "facilities"] == 0:
            st.info(t("no_facility", lang))
        if result.no_data:
            st.caption(t("no_data_note", lang, cats="、".join(
                settings.category(c).name(lang) for c in result.no_data)))

    used = st.session_state["good_inputs"]
    circle, drawn = ready_circle(study, used, category, result.thresholds[category].metres)
    st.fragment(_coverage_map, run_every=None if drawn else LOOK_AGAIN_S)(
        study, result, settings, lang, plan, circle, drawn)
    # After the map (it goes out first): the other categories' circles and layers.
    key = _map_key(result, lang, settings)
    # Streamlit compiles its emoji pattern at the first message of the process (0.4 s,
    # paid by the first click that shows one): done here, ahead.
    ahead_work().submit(("import", "streamlit.emojis"),
                        functools.partial(importlib.import_module, "streamlit.emojis"))
    for other in result.categories:
        ahead_work().submit((key, other), functools.partial(
            _prepare_category, study, used, result, key, other, lang))
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
        report["item"] = [tr(item, lang) for item in report["item"]]
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
