"""The base of every map: offline Leaflet, base tiles, scale bar, zoom, display geometry."""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement, Template

from gis.settings import WGS84
from layers.i18n import t

#: Where the app serves its own copy of Leaflet (static/vendor/leaflet, Streamlit static
#: serving), so that maps need no CDN and work offline.
LEAFLET_BASE_URL = "/app/static/vendor/leaflet"
LEAFLET_DIR = Path(__file__).resolve().parent.parent / "static" / "vendor" / "leaflet"
DISPLAY_SIMPLIFY_M = 0.5
#: Above this many homes a map draws each home as a dot at its centroid (on the canvas
#: renderer) instead of its outline: a city's buildings stay light to send and to draw.
HOMES_AS_POINTS_ABOVE = 3000
#: Service circles are simplified to this many metres for the screen (their band is 25 m
#: wide, so 2 m is invisible at any zoom where a whole circle is seen).
CIRCLE_SIMPLIFY_M = 2.0


def for_display(gdf: gpd.GeoDataFrame, *, simplify_m: float = DISPLAY_SIMPLIFY_M
                ) -> gpd.GeoDataFrame:
    """Return ``gdf`` in WGS-84, simplified (metres) and rounded to 1e-6 degrees."""
    out = gdf.copy()
    if out.crs is not None and out.crs.is_projected:
        out = out.set_geometry(out.geometry.simplify(simplify_m))
    out = out.to_crs(WGS84)
    return out.set_geometry(shapely.set_precision(np.asarray(out.geometry.values), 1e-6,
                                                   mode="pointwise"))


def fit_zoom(bounds: np.ndarray, width_px: int = 900, height_px: int = 560) -> int:
    """Return the largest web-map zoom at which ``bounds`` (w, s, e, n degrees) fit.

    Computed here rather than by Leaflet's fitBounds, which runs while the Streamlit
    component is still hidden (zero size) and then zooms far out.
    """
    west, south, east, north = bounds
    dlon = max(east - west, 1e-6)
    merc = np.log(np.tan(np.pi / 4 + np.radians([south, north]) / 2))
    dy = max(merc[1] - merc[0], 1e-9)
    z_lon = np.log2(width_px * 360.0 / (256.0 * dlon))
    z_lat = np.log2(height_px * 2 * np.pi / (256.0 * dy))
    return int(np.clip(np.floor(min(z_lon, z_lat)), 3, 18))


def macro(text: str) -> MacroElement:
    """Return a MacroElement of the Jinja ``text`` that survives copying and pickling.

    branca drops ``_template`` when an element is copied and re-creates it from
    ``_template_str``: an element given only ``_template`` came back empty.
    """
    element = MacroElement()
    element._template_str = text
    element._template = Template(text)
    return element


def metric_scale_bar() -> MacroElement:
    """Return a Leaflet scale bar in metres only (the default also shows feet)."""
    return macro("""
    {% macro script(this, kwargs) %}
    L.control.scale({metric: true, imperial: false, position: "bottomright"})
        .addTo({{ this._parent.get_name() }});
    {% endmacro %}
    """)


def base_map(bounds: np.ndarray, *, lang: str = "zh",
             basemap: str | tuple[str, str, str] = "osm",
             leaflet_base: str = LEAFLET_BASE_URL) -> folium.Map:
    """Return an empty map fitted to ``bounds`` (w, s, e, n degrees).

    Parameters
    ----------
    bounds
        The area to show.
    lang
        ``"zh"`` or ``"en"``.
    basemap
        ``"osm"`` for OpenStreetMap tiles, ``"none"`` for a blank background that works
        offline, or (XYZ tile URL template, attribution, layer name) for other tiles.
    leaflet_base
        URL folder of leaflet.js and leaflet.css. Only Leaflet is loaded: the maps use no
        jQuery, Bootstrap or icon fonts, so nothing comes from a CDN.
    """
    centre = ((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2)
    fmap = folium.Map(location=centre, zoom_start=fit_zoom(bounds), tiles=None,
                      control_scale=False, prefer_canvas=True)
    fmap.default_js = [("leaflet", f"{leaflet_base}/leaflet.js")]
    fmap.default_css = [("leaflet_css", f"{leaflet_base}/leaflet.css")]
    metric_scale_bar().add_to(fmap)
    if basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap",
                         attr=t("osm_attribution", lang)).add_to(fmap)
    elif isinstance(basemap, tuple):
        url, attribution, name = basemap
        folium.TileLayer(url, name=name, attr=attribution).add_to(fmap)
    return fmap


def map_size_bytes(fmap: folium.Map) -> int:
    """Return the size of the rendered map HTML, in bytes."""
    return len(fmap.get_root().render().encode("utf-8"))


def standalone_html(fmap: folium.Map, *, static_dir: str | Path | None = None) -> str:
    """Return the map as one HTML file that works offline: Leaflet is written inline.

    Parameters
    ----------
    fmap
        A map made with :func:`base_map` (it loads only leaflet.js and leaflet.css).
    static_dir
        The folder holding leaflet.js and leaflet.css (default: static/vendor/leaflet).
    """
    folder = Path(static_dir) if static_dir is not None else LEAFLET_DIR
    page = fmap.get_root().render()
    js = (folder / "leaflet.js").read_text(encoding="utf-8")
    css = (folder / "leaflet.css").read_text(encoding="utf-8")
    page = re.sub(r'<script src="[^"]*leaflet\.js"></script>',
                  lambda _m: f"<script>{js}</script>", page)
    page = re.sub(r'<link rel="stylesheet" href="[^"]*leaflet\.css"\s*/?>',
                  lambda _m: f"<style>{css}</style>", page)
    return page


def legend_box(title: str, rows: list[str]) -> MacroElement:
    """Return a fixed legend in the lower left: an escaped title over HTML rows.

    A row is ``swatch(colour, text)`` or any small HTML; text in rows must be escaped.
    """
    return macro("""
    {% macro html(this, kwargs) %}
    <div class="sc-legend" style="position:absolute; z-index:9999; bottom:24px; left:12px;
         background:rgba(255,255,255,.92); padding:8px 10px; border-radius:4px;
         font:12px/1.5 'Noto Sans CJK SC','Microsoft YaHei',sans-serif; max-width:280px;
         box-shadow:0 1px 4px rgba(0,0,0,.3)">
      <b>""" + html.escape(title) + "</b>" + "".join(rows) + """
    </div>
    <style>.sc-legend span{display:inline-block;width:14px;height:10px;margin-right:6px;
      border:1px solid #666}</style>
    {% endmacro %}
    """)


def swatch(style: str, text: str) -> str:
    """Return one legend row: a small box styled by ``style`` (CSS) and escaped ``text``."""
    return f'<div><span style="{style}"></span>{html.escape(text)}</div>'


@dataclass(frozen=True)
class MapParts:
    """What streamlit-folium sends to the browser for one map, rendered once.

    Strings and tuples only: one instance can serve every session and every rerun that
    shows the same map. The script is the same string each time, so the browser's map
    component is not rebuilt (and keeps the user's view) when a rerun changes nothing on
    the map. Made by :func:`map_parts`; drawn by the app's ``show_map``.
    """

    script: str
    header: str
    html: str
    map_id: str
    css_links: tuple[str, ...]
    js_links: tuple[str, ...]
    bounds: tuple[tuple[float | None, float | None], tuple[float | None, float | None]]
    zoom: float | None


def map_parts(fmap: folium.Map) -> MapParts:
    """Render a map as streamlit-folium 0.27's ``st_folium`` does, once.

    ``st_folium`` renders the whole folium tree on every rerun of every session (a
    fresh id from ``os.urandom`` per element, Jinja templates compiled per element): 1.5 s
    a map under ten sessions. The parts are computed here from a copy (rendering renames
    elements in place) and can be cached.
    """
    import streamlit_folium as sf

    m = copy_map(fmap)
    m.get_root().render()
    m.render()
    html_text = sf._get_html(m)
    header = sf._get_header(m)
    script = sf._get_map_string(m)
    css: list[str] = []
    js: list[str] = []

    def walk(el: object) -> Iterator[object]:
        yield el
        for child in getattr(el, "_children", {}).values():
            yield from walk(child)

    for el in walk(m):
        css.extend(href for _n, href in getattr(el, "default_css", []))
        js.extend(src for _n, src in getattr(el, "default_js", []))
    try:
        (s_, w_), (n_, e_) = m.get_bounds()
        bounds = ((s_, w_), (n_, e_))
    except (AttributeError, ValueError, TypeError):
        bounds = ((None, None), (None, None))
    return MapParts(script=script, header=header, html=html_text, map_id=sf.get_full_id(m),
                    css_links=tuple(dict.fromkeys(css)), js_links=tuple(dict.fromkeys(js)),
                    bounds=bounds, zoom=m.options.get("zoom"))


def copy_map(fmap: folium.Map) -> folium.Map:
    """Return a copy of a built map for one render (st_folium renames elements in place).

    branca copies an element's template from its ``_template_str``; the project's macro
    elements set it (:func:`macro`), so the legend and the scale bar survive the copy
    (they did not, and the app's coverage map showed no legend).
    """
    return copy.deepcopy(fmap)
