"""Widgets every view shares: choices, errors, the map, the place finder, project files."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import streamlit as st

from gis.settings import PROJECT_DIR, Settings, load_settings
from layers.base import MapParts
from layers.i18n import progress_text, t, translate_message


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


def say_progress(status: object, lang: str) -> Callable[[str], None]:
    """Return a progress callback that writes gis's steps in the user's language."""
    settings = load_settings()
    names = {c.id: c.name(lang) for c in settings.categories}

    def say(message: str) -> None:
        status.write(progress_text(message, lang, names))  # type: ignore[attr-defined]

    return say


ERROR_HEADLINES = {
    "EmptyInputError": "error_empty",
    "InputError": "error_input",
    "CRSMismatchError": "error_crs",
    "NoReachableFacilityError": "error_unreachable",
    "SettingsError": "error_settings",
    "SaveBusyError": "error_busy",
}


def tr(text: object, lang: str) -> str:
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


def take_focus() -> dict:
    """Return the place the user chose to zoom to, once (then the map is theirs again)."""
    return st.session_state.pop("focus", None) or {}


#: Where the app puts the drawn maps' scripts for the browser to fetch: Streamlit serves
#: ./static at /app/static (``server.enableStaticServing``).
MAP_SCRIPTS = PROJECT_DIR / "static" / "maps"
MAP_SCRIPTS_URL = "/app/static/maps"
#: How many map scripts are kept (the least recently shown are removed first).
KEEP_MAP_SCRIPTS = 200


def served_script(script: str) -> tuple[str, list[str]]:
    """Return (a small script that runs ``script``, the URLs the browser loads first).

    Streamlit sends a component's arguments on every rerun: a city's map script (1.4 MB
    on Malta) went to the browser again with each switch of category. The script is
    written once to a file named by its content, which the browser fetches (and
    caches) when it draws the map; each rerun sends the 60-character line that runs it.
    Where the file cannot be written, the script is sent as before.
    """
    digest = hashlib.sha256(script.encode("utf-8")).hexdigest()[:32]
    path = MAP_SCRIPTS / f"{digest}.js"
    try:
        if path.exists():
            os.utime(path)
        else:
            MAP_SCRIPTS.mkdir(parents=True, exist_ok=True)
            text = (f"window.scMaps = window.scMaps || {{}};\nwindow.scMaps[{json.dumps(digest)}]"
                    f" = {json.dumps(script, ensure_ascii=False)};\n")
            tmp = path.with_name(f".{digest}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
            _prune_map_scripts()
    except OSError:
        return script, []
    return f'(0, eval)(window.scMaps["{digest}"]);', [f"{MAP_SCRIPTS_URL}/{digest}.js"]


def _prune_map_scripts() -> None:
    """Remove the least recently shown map scripts beyond :data:`KEEP_MAP_SCRIPTS`."""
    def shown(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:  # removed meanwhile by another session
            return 0.0

    for old in sorted(MAP_SCRIPTS.glob("*.js"), key=shown)[:-KEEP_MAP_SCRIPTS]:
        old.unlink(missing_ok=True)


def show_map(parts: MapParts, *, key: str, height: int,
             returned_objects: Sequence[str] = (),
             focus: dict | None = None,
             on_change: Callable[[], None] | None = None,
             overlay: str | None = None) -> dict | None:
    """Draw pre-rendered map parts with streamlit-folium's component; return its value.

    The arguments are those ``st_folium`` (streamlit-folium 0.27.4, pinned) passes to its
    component; only the rendering, the costly part, is done once instead of per rerun.
    ``focus`` (``center`` and ``zoom``) moves the drawn map without drawing it again;
    ``on_change`` is called (as a widget callback) after a click stored its value under
    ``st.session_state[key]``. ``overlay`` (:func:`layers.base.overlay_script`) is
    added to the drawn map; a change of it alone leaves the map drawn and swaps only
    those layers.
    """
    import streamlit_folium as sf

    focus = focus or {}

    hash_key = sf.generate_js_hash(parts.script, key, False)
    script, link = served_script(parts.script)
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

    return sf._component_func(
        script=script, header=parts.header, html=parts.html, id=parts.map_id,
        key=hash_key, height=height, width=None, returned_objects=returned,
        default={k: v for k, v in defaults.items() if k in returned},
        zoom=focus.get("zoom"), center=focus.get("center"), feature_group=overlay,
        return_on_hover=False, layer_control=None, pixelated=False,
        css_links=list(parts.css_links), js_links=[*parts.js_links, *link],
        on_change=changed,
        wrap_longitude=False)


def xlsx_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """Return an XLSX workbook of ``sheets`` as bytes."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf) as writer:
        for sheet, table in sheets.items():
            table.to_excel(writer, sheet_name=sheet, index=False)
    return buf.getvalue()


def basemap_choice(settings: Settings) -> str | tuple[str, str, str]:
    """Return the base map for the layers: osm, none, or the custom tiles of settings."""
    choice = st.session_state["basemap"]
    if choice == "custom" and settings.tile_url:
        return (settings.tile_url, settings.tile_attribution, settings.tile_name)
    return "none" if choice == "custom" else choice
