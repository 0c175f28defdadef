"""The scenarios view: saved what-if scenarios, compared side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gis import GisError
from gis.analysis.coverage import (
    CoverageResult,
)
from gis.planning.scenario_edits import as_changes, as_rows
from gis.planning.scenarios import (
    Scenario,
    compare_scenarios,
    delete_scenario,
    load_scenarios,
    rename_scenario,
    save_scenarios,
)
from gis.settings import Settings, load_settings
from gis.study import Study
from layers.i18n import t
from views.state import analysis_key, project_file, study_id
from views.uploads import project_file_box
from views.widgets import show_error


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


def save_scenario(study: Study, lang: str) -> None:
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
