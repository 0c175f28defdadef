"""Streamlit app: the ten-minute life service circle on an interactive map.

Wiring only: widgets, caching and session state. Geometry lives in gis/, map styling in
layers/. Run with ``make run`` (or ``streamlit run app.py``); the study area is the bundled
central-Helsinki extract unless SERVICE_CIRCLE_SOURCE names another .osm.pbf / .osm file
or place.
"""

from __future__ import annotations

import streamlit as st

from gis.settings import load_settings
from layers.i18n import t
from views.coverage import coverage_view
from views.gaps import gaps_view
from views.grid_plan import current_plan
from views.grids import grids_view
from views.places import place_finder
from views.report import report_view
from views.scenarios import scenarios_view
from views.sidebar import load, sidebar
from views.state import ahead_work, get_coverage, get_summary, init_state
from views.widgets import show_error


def main() -> None:
    """Draw the page (no work ahead starts meanwhile)."""
    with ahead_work().user_run():
        page()


def page() -> None:
    """Draw the page."""
    settings = load_settings()
    st.set_page_config(page_title="十分钟生活服务圈 · Service circles", layout="wide")
    init_state(settings)
    inputs = sidebar(settings)
    lang = st.session_state["lang"]
    st.title(t("app_title", lang))
    st.caption(t("app_caption", lang))
    # Always there, whatever it holds (a refusal, the progress box of a first load, the
    # area's warnings): the maps below keep their place in the page, and Streamlit's
    # frontend does not mount them again (the first click after opening the app redrew
    # the whole map).
    with st.container():
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
    with st.spinner(t("computing", lang)):
        result = get_coverage(study, used, minutes, metres, profile,
                              st.session_state["gates"])
        summary = get_summary(result, (used, minutes, metres, profile,
                                       st.session_state["gates"]))

    if st.session_state["view"] in ("coverage", "gaps", "grids"):
        place_finder(study, used, lang)
    if st.session_state["view"] == "gaps":
        gaps_view(study, used, result, settings, lang)
    elif st.session_state["view"] == "grids":
        grids_view(study, used, settings, lang)
    elif st.session_state["view"] == "scenarios":
        scenarios_view(study, result, settings, lang)
    elif st.session_state["view"] == "report":
        report_view(study, used, result, settings, lang)
    else:
        coverage_view(study, result, summary, settings, lang,
                      plan=current_plan(study, used))


main()
