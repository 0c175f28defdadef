"""The gaps view: households outside the circle, new sites, what-if by map clicks."""

from __future__ import annotations

import functools
import json

import geopandas as gpd
import pyarrow as pa
import shapely
import streamlit as st

from gis import GisError
from gis.analysis.coverage import (
    CoverageResult,
)
from gis.analysis.gaps import GapResult, find_gaps
from gis.crs import to_wgs84
from gis.planning.scenario_edits import CLICK_MODES, added_rows, apply_click, as_changes, map_points
from gis.planning.scenarios import (
    Delta,
    Scenario,
    WhatIf,
    result_after,
)
from gis.planning.siting import plan_sites
from gis.settings import Settings, load_settings
from gis.study import Study
from layers.base import MapParts, map_parts, overlay_script
from layers.gaps import gaps_base_map, gaps_layers
from layers.i18n import t
from views.scenarios import compare_block, save_scenario
from views.state import analysis_key
from views.widgets import basemap_choice, choice, say_progress, show_error, show_map, take_focus


@st.cache_resource(show_spinner=False, max_entries=16)
def get_gaps_base(_study: Study, _result: CoverageResult, used: tuple, lang: str,
                  basemap: str | tuple) -> MapParts:
    """Return the drawn part of the gaps map: streets, legend, control (shared, immutable).

    One per study area (``used``), language and tiles: a click, a category or a proposal
    changes only the layers of :func:`get_gaps_layers`, sent to this map as it stands.
    """
    bounds = to_wgs84(_result.homes).total_bounds
    return map_parts(gaps_base_map(bounds, lang=lang, basemap=basemap,
                                   streets=_study.streets))


@st.cache_resource(show_spinner=False, max_entries=32)
def get_gaps_layers(_result: CoverageResult, _shown: GapResult,
                    _sites: gpd.GeoDataFrame | None, _circles: gpd.GeoSeries | None,
                    key: tuple, category: str, lang: str, added: tuple, closed: tuple,
                    scenario: str, proposal: str, picked: tuple | None = None) -> str:
    """Return the script of the gaps map's layers, once per state (shared text).

    The state is the analysis (``key``), the category, the scenario's changes
    (``scenario``, ``added``, ``closed``, ``picked``: a station waiting for its new
    place) and the proposal's sites; the gaps shown, the sites and their circles follow
    from it. A rerun that changes none of them (any other widget) costs nothing here.
    """
    return overlay_script(gaps_layers(_shown, _result.facilities, load_settings(),
                                      sites=_sites, circles=_circles, added=list(added),
                                      closed=list(closed), lang=lang, picked=picked))


@st.cache_data(show_spinner=False, max_entries=32)
def gaps_after(_study: Study, _result: CoverageResult, key: tuple, category: str,
               _what: WhatIf, changes: str, _before: GapResult | None = None) -> GapResult:
    """Return the gaps left after this session's scenario (``changes`` names it).

    The gaps the scenario did not touch keep their polygons from ``_before`` (the gaps
    without it): a click redraws only the gaps around its station.
    """
    scenario = Scenario("current", tuple(as_changes(json.loads(changes), _study.area.local_crs,
                                                    _result.facilities.index)))
    return find_gaps(result_after(_result, _what, scenario), category, load_settings(),
                     reuse=_before)


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


@st.cache_resource(show_spinner=False, max_entries=32)
def gap_table(_gaps: GapResult, key: tuple, category: str, lang: str) -> pa.Table:
    """Return the gap table of ``category`` (``key``: the analysis) as an Arrow table.

    Made once: Streamlit converted the same frame at every click (0.1 s on a city, with a
    thread pool started each time). Arrow tables cannot be changed, so one serves every
    session.
    """
    table = _gaps.areas.drop(columns=_gaps.areas.geometry.name).copy()
    table["extra_min"] = table["extra_min"].round(1)
    table["nearest_dist_m"] = table["nearest_dist_m"].round(0)
    table = table.rename(columns={
        "gap_id": t("gap_id", lang), "homes": t("homes", lang),
        "households": t("households_uncovered", lang),
        "nearest_facility": t("nearest_facility", lang),
        "nearest_dist_m": t("nearest_dist", lang),
        "extra_min": f"{t('extra_walk', lang)} ({t('minutes_unit', lang)})"})
    return pa.Table.from_pandas(table, preserve_index=False, nthreads=1)


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


def site_proposal(study: Study, key: tuple,
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
    # Everything above the map goes into one container, so that the map keeps its place
    # in the page whatever shows above it (a message, a proposal): a component that
    # moves is mounted again by Streamlit's frontend, and the drawn map was lost.
    with st.container():
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
                    "seconds": plan.exact.seconds,
                    # plan_sites drew each site's service circle: kept, not drawn again.
                    "circles": [shapely.to_wkb(g, hex=True) for g in plan.circles]}
        proposal, sites = site_proposal(study, key, category)
        circles = None
        if proposal is not None:
            pts = proposal["sites"]
            circles = gpd.GeoSeries(shapely.from_wkb(proposal["circles"]), crs=result.local_crs)
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
                assert sites is not None  # a proposal has its sites
                st.session_state["changes"] += added_rows(
                    sites, category, [f"{t('proposed_site', lang)} {p[2]}" for p in pts])

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
            shown = gaps_after(study, result, key, category, what, json.dumps(mine), gaps)
            st.caption(t("gaps_after_scenario", lang, n=len(shown.areas), before=len(gaps.areas),
                         hh=f"{int(shown.areas['households'].sum()) if len(shown.areas) else 0:,}"))
        moving = st.session_state.get("moving")
        picked = ((moving["lon"], moving["lat"]) if moving and moving.get("category") == category
                  else None)
    base = get_gaps_base(study, result, used, lang, basemap_choice(settings))
    layers = get_gaps_layers(result, shown, sites, circles, key, category, lang,
                             tuple(added), tuple(closed), json.dumps(mine),
                             repr(proposal and proposal["sites"]), picked)
    # The click is read in the map's callback (before this run draws anything); the
    # drawn map stays and gets the layers of the scenario after it.
    show_map(base, key="gaps_map", height=620,
             returned_objects=["last_clicked", "last_object_clicked"], focus=take_focus(),
             on_change=functools.partial(_gaps_map_click, study, result, category),
             overlay=layers)

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
            save_scenario(study, lang)
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
        st.dataframe(gap_table(gaps, key, category, lang), hide_index=True, width="stretch")
