"""The base of every map: offline Leaflet, base tiles, scale bar, zoom, display geometry."""

from __future__ import annotations

import copy
import html
import json
import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement, Template

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


class RenderedText(Element):
    """An element's rendered output, kept as text (never compiled as a template again)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: object) -> str:
        """Return the text as it is."""
        return self.text


def _render_macro(self: MacroElement, **kwargs: object) -> None:
    """Render a MacroElement as branca 0.8.2 does, its output kept as :class:`RenderedText`.

    branca wraps each output (header, html, script) in ``Element(output)``, which compiles
    the output as a Jinja template and renders it once more: on Malta 1.6 s a map went to
    tokenising megabytes of GeoJSON, and any "{{ }}" in the data was evaluated.
    """
    figure = self.get_root()
    if not isinstance(figure, Figure):
        msg = "You cannot render this Element if it is not in a Figure."
        raise TypeError(msg)
    module = self._template.module.__dict__
    for part in ("header", "html", "script"):
        make = module.get(part)
        if make is not None:
            getattr(figure, part).add_child(RenderedText(make(self, kwargs)),
                                            name=self.get_name())
    for element in list(self._children.values()):
        element.render(**kwargs)


MacroElement.render = _render_macro  # type: ignore[method-assign]


#: A "{" that Jinja would read as the start of an expression, statement or comment.
_JINJA_OPEN = re.compile(r"\{(?=[{%#])")


def inert(text: str) -> str:
    """Return ``text`` that Jinja reads as plain text ("{{" becomes "{ {").

    branca renders the output of every map element once more as a Jinja template, so a
    name such as "{{ 7*7 }}" in the data came out as "49", and a crafted one could run
    code on the server. Every text from the data that reaches a map passes here.
    """
    return _JINJA_OPEN.sub("{ ", text)


def escape(text: object) -> str:
    """Return ``text`` escaped for HTML and made inert for Jinja (see :func:`inert`)."""
    return inert(html.escape(str(text)))


def for_display(gdf: gpd.GeoDataFrame, *, simplify_m: float = DISPLAY_SIMPLIFY_M
                ) -> gpd.GeoDataFrame:
    """Return ``gdf`` in WGS-84, simplified (metres) and rounded to 1e-6 degrees.

    Text columns are made inert for Jinja (:func:`inert`): they go into the map's page.
    """
    out = gdf.copy()
    for col in out.columns:
        if col != out.geometry.name and (out[col].dtype == object
                                          or pd.api.types.is_string_dtype(out[col])):
            out[col] = [inert(v) if isinstance(v, str) else v for v in out[col]]
    if simplify_m > 0 and out.crs is not None and out.crs.is_projected:
        out = out.set_geometry(out.geometry.simplify(simplify_m))
    out = out.to_crs(WGS84)
    return out.set_geometry(shapely.set_precision(np.asarray(out.geometry.values), 1e-6,
                                                   mode="pointwise"))


def screen_outline(area: shapely.Geometry, tolerance_m: float) -> shapely.Geometry:
    """Return a (multi)polygon simplified ring by ring, for drawing only.

    Each ring is simplified on its own (Douglas-Peucker) and rings that collapse are
    dropped: a city's service circle (100,000 points) in 0.06 s instead of 1.0 s for
    GEOS's simplification of the whole polygon, which repairs its validity. The result
    may touch itself where two rings came within ``tolerance_m``: fine on a screen, not
    for measuring.
    """
    parts = []
    for part in shapely.get_parts(area):
        if not isinstance(part, shapely.Polygon):
            continue
        rings = shapely.simplify(shapely.get_rings(part), tolerance_m, preserve_topology=False)
        sizes = shapely.get_num_coordinates(rings)
        if len(rings) == 0 or sizes[0] < 4:
            continue
        parts.append(shapely.Polygon(rings[0], [r for r, n in zip(rings[1:], sizes[1:],
                                                                  strict=True) if n >= 4]))
    return shapely.MultiPolygon(parts) if len(parts) != 1 else parts[0]


#: Decimal places of coordinates sent to the page in encoded polylines (5: about 1 m).
SCREEN_PRECISION = 5


def encode_polylines(lonlat: np.ndarray, starts: np.ndarray,
                     precision: int = SCREEN_PRECISION) -> list[str]:
    """Return Google's encoded polyline of each run of points (``scDecode`` reads them).

    Parameters
    ----------
    lonlat
        (n, 2) longitudes and latitudes in degrees, the runs one after another.
    starts
        Index of each run's first point, increasing, the first 0.
    precision
        Decimal places kept.

    Returns
    -------
    list of str
        One string a run: 4-6 characters a point where GeoJSON writes 22.

    Examples
    --------
    >>> encode_polylines(np.array([[-120.2, 38.5], [-120.95, 40.7], [-126.453, 43.252]]),
    ...                  np.array([0]))
    ['_p~iF~ps|U_ulLnnqC_mqNvxq`@']
    """
    if len(lonlat) == 0:
        return []
    q = np.round(np.asarray(lonlat, dtype=float)[:, ::-1] * 10 ** precision).astype(np.int64)
    d = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    d[starts] = q[starts]
    v = d.ravel()
    zz = np.where(v < 0, ~(v << 1), v << 1)
    k = np.arange(7)
    n = 1 + ((zz[:, None] >> (5 * k[None, 1:])) > 0).sum(axis=1)
    chunks = ((zz[:, None] >> (5 * k[None, :])) & 31) + 63 + 32 * (k[None, :] < n[:, None] - 1)
    text = chunks[k[None, :] < n[:, None]].astype(np.uint8).tobytes().decode("ascii")
    ends = np.concatenate([[0], np.cumsum(n.reshape(-1, 2).sum(axis=1))])
    cuts = [*ends[np.asarray(starts)].tolist(), len(text)]
    return [text[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def encoded_shapes(geoms: np.ndarray, precision: int = SCREEN_PRECISION) -> list[list]:
    """Return each geometry (WGS-84) as encoded polylines for the page.

    A (multi)line string becomes a list of its parts; a (multi)polygon a list of its
    polygons, each a list of rings (the shell first). ``scLatLngs`` turns either into
    what ``L.polyline`` or ``L.polygon`` takes.

    Parameters
    ----------
    geoms
        Lines or polygons in WGS-84.
    precision
        Decimal places kept.

    Returns
    -------
    list of list
        One entry a geometry.
    """
    geoms = np.asarray(geoms)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    polygonal = shapely.get_type_id(parts) == 3
    if polygonal.any():
        rings, ring_owner = shapely.get_rings(parts, return_index=True)
        pieces = rings
    else:
        ring_owner = np.arange(len(parts))
        pieces = parts
    coords, point_owner = shapely.get_coordinates(pieces, return_index=True)
    starts = np.flatnonzero(np.diff(point_owner, prepend=-1))
    codes = encode_polylines(coords, starts, precision)
    by_piece: list[str | None] = [None] * len(pieces)
    for piece, code in zip(point_owner[starts].tolist(), codes, strict=True):
        by_piece[piece] = code
    out: list[list] = [[] for _ in range(len(geoms))]
    if polygonal.any():
        shells: dict[int, list] = {}
        for piece, part in enumerate(ring_owner.tolist()):
            if by_piece[piece] is not None:
                shells.setdefault(part, []).append(by_piece[piece])
        for part, rings_of in shells.items():
            out[int(owner[part])].append(rings_of)
    else:
        for piece, part in enumerate(ring_owner.tolist()):
            if by_piece[piece] is not None:
                out[int(owner[part])].append(by_piece[piece])
    return out


def polyline_decoder() -> MacroElement:
    """Return the page's helpers for the layers drawn from data.

    The decoder of :func:`encode_polylines` (``scDecode``, ``scLatLngs``) and the
    tooltip table every layer shares (``scTable``).
    """
    return macro("""
    {% macro script(this, kwargs) %}
    window.scDecode = function(s, p){
      var f = Math.pow(10, p || """ + str(SCREEN_PRECISION) + """), i = 0, lat = 0, lng = 0;
      var out = [];
      while (i < s.length) {
        var b, sh = 0, r = 0;
        do { b = s.charCodeAt(i++) - 63; r |= (b & 31) << sh; sh += 5; } while (b >= 32);
        lat += (r & 1) ? ~(r >> 1) : (r >> 1);
        sh = 0; r = 0;
        do { b = s.charCodeAt(i++) - 63; r |= (b & 31) << sh; sh += 5; } while (b >= 32);
        lng += (r & 1) ? ~(r >> 1) : (r >> 1);
        out.push([lat / f, lng / f]);
      }
      return out;
    };
    window.scLatLngs = function(shape){
      return shape.map(function(x){
        return typeof x === "string" ? window.scDecode(x) : window.scLatLngs(x); });
    };
    // A tooltip's table of [label, value] rows (both escaped HTML).
    window.scTable = function(rows){
      return "<table>" + rows.map(function(r){
        return "<tr><th style='text-align:left;padding-right:8px'>" + r[0]
               + "</th><td>" + r[1] + "</td></tr>"; }).join("") + "</table>";
    };
    {% endmacro %}
    """)


#: Zoom steps of every map: quarter levels, so an area fills its map instead of a
#: quarter of it when the whole level just misses.
ZOOM_SNAP = 0.25


def fit_zoom(bounds: np.ndarray, width_px: int = 900, height_px: int = 560) -> float:
    """Return the largest web-map zoom (in ``ZOOM_SNAP`` steps) at which ``bounds`` fit.

    ``bounds`` are (w, s, e, n) in degrees. Computed here rather than by Leaflet's
    fitBounds, which runs while the Streamlit component is still hidden (zero size) and
    then zooms far out.
    """
    west, south, east, north = bounds
    dlon = max(east - west, 1e-6)
    merc = np.log(np.tan(np.pi / 4 + np.radians([south, north]) / 2))
    dy = max(merc[1] - merc[0], 1e-9)
    z_lon = np.log2(width_px * 360.0 / (256.0 * dlon))
    z_lat = np.log2(height_px * 2 * np.pi / (256.0 * dy))
    return float(np.clip(np.floor(min(z_lon, z_lat) / ZOOM_SNAP) * ZOOM_SNAP, 3, 18))


def script_value(data: object) -> str:
    r"""Return ``data`` as JSON to give a map script as a value, never as template text.

    A value is not read as Jinja, so names from the data stay inert; ``</`` is escaped so
    no name can close the page's script.

    Parameters
    ----------
    data
        Lists, dicts, strings and numbers.

    Returns
    -------
    str
        JavaScript literal of ``data`` (non-ASCII kept as it is).

    Examples
    --------
    >>> print(script_value(["社区1-01网格<br><b>383</b>"]))
    ["社区1-01网格<br><b>383<\/b>"]
    """
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


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


#: Street types drawn under the maps, with their line width in pixels; footways and
#: paths are left out (they crowd the picture without orienting).
STREET_WIDTHS = {"primary": 4.0, "secondary": 3.5, "tertiary": 3.0, "trunk": 4.0,
                 "residential": 2.2, "living_street": 2.0, "unclassified": 2.0,
                 "pedestrian": 2.0, "service": 1.2}
#: A street name is written once per this many metres of the street.
LABEL_EVERY_M = 500.0
#: Street names show from this zoom on (below it they would cover the map).
LABEL_MIN_ZOOM = 15


def street_lines(streets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the streets worth drawing, merged by (name, type), in their projected CRS."""
    hw = streets["highway"].astype(str)
    keep = streets[hw.isin(list(STREET_WIDTHS))].copy()
    if not len(keep):
        return keep
    name = (keep["name"].where(keep["name"].notna(), "").astype(str) if "name" in keep
            else pd.Series("", index=keep.index))
    # One multi-line per (name, type), then merged into runs: the segments already meet at
    # their ends, so no union (GeoDataFrame.dissolve) is needed to join them (0.6 s of
    # Malta's first map).
    groups = pd.DataFrame({"name": name.to_numpy(), "highway": keep["highway"].to_numpy()})
    codes, uniques = pd.MultiIndex.from_frame(groups).factorize()
    order = np.argsort(codes, kind="stable")
    multi = shapely.multilinestrings(np.asarray(keep.geometry.values)[order],
                                     indices=codes[order])
    return gpd.GeoDataFrame({"name": uniques.get_level_values(0).to_numpy(dtype=object),
                             "highway": uniques.get_level_values(1).to_numpy(dtype=object)},
                            geometry=shapely.line_merge(multi), crs=keep.crs)


def street_labels(lines: gpd.GeoDataFrame) -> list[tuple[float, float, str, float]]:
    """Return (x, y, name, angle in degrees) label places along the named streets.

    One label per :data:`LABEL_EVERY_M` of a street (at least one for a piece of 80 m or
    more), at the middle of its longest pieces, turned along the street and kept upright.
    """
    out: list[tuple[float, float, str, float]] = []
    named = lines[lines["name"].astype(str).str.len() > 0]
    for name, geom in zip(named["name"], named.geometry, strict=True):
        parts = sorted(shapely.get_parts(geom), key=lambda g: -g.length)
        budget = max(1, int(geom.length // LABEL_EVERY_M))
        for part in parts[:budget]:
            if part.length < 80:
                break
            mid = part.interpolate(0.5, normalized=True)
            a = part.interpolate(max(0.0, part.project(mid) - 10))
            b = part.interpolate(min(part.length, part.project(mid) + 10))
            angle = float(np.degrees(np.arctan2(b.y - a.y, b.x - a.x)))
            if angle > 90:
                angle -= 180
            elif angle <= -90:
                angle += 180
            out.append((mid.x, mid.y, str(name), angle))
    return out


def streets_layer(streets: gpd.GeoDataFrame, *, lang: str = "zh",
                  show: bool = True) -> folium.FeatureGroup:
    """Return the study area's own streets and their names, drawn from its data (offline).

    Without base tiles (a meeting room without internet) the map still shows where
    things are. Names are turned along their street and appear from zoom
    :data:`LABEL_MIN_ZOOM` on.
    """
    group = folium.FeatureGroup(name=t("layer_streets", lang), show=show)
    lines_json, labels = _street_drawing(streets)
    if lines_json is None:
        return group
    street_drawing(lines_json).add_to(group)
    if labels:
        street_names(labels).add_to(group)
    return group


#: The drawing of each study area's streets (GeoJSON text and name labels), made once per
#: streets table: every map of the area shares it (1.9 s a map on Malta).
_STREET_DRAWINGS: dict[int, tuple[weakref.ref, tuple[str | None, list[list]]]] = {}


def _street_drawing(streets: gpd.GeoDataFrame) -> tuple[str | None, list[list]]:
    """Return (the streets to draw as JSON text, their name labels), cached per table.

    The text holds each street's width (``w``) and its parts as encoded polylines (``p``,
    :func:`encoded_shapes`): Malta's streets took 2.6 MB as GeoJSON.
    """
    hit = _STREET_DRAWINGS.get(id(streets))
    if hit is not None and hit[0]() is streets:
        return hit[1]
    lines = street_lines(streets)
    drawing: tuple[str | None, list[list]] = (None, [])
    if len(lines):
        shown = for_display(lines, simplify_m=2.0)
        shown["w"] = shown["highway"].map(STREET_WIDTHS).fillna(1.0)
        labels = street_labels(lines)
        names: list[list] = []
        if labels:
            pts = gpd.GeoSeries(shapely.points([(x, y) for x, y, _n, _a in labels]),
                                crs=lines.crs).to_crs(WGS84)
            names = [[round(p.y, 6), round(p.x, 6), escape(name), round(-angle)]
                     for p, (_x, _y, name, angle) in zip(pts, labels, strict=True)]
        drawing = (json.dumps({"w": shown["w"].round(1).tolist(),
                               "p": encoded_shapes(shown.geometry.values)}),
                   names)
    try:
        key = id(streets)
        _STREET_DRAWINGS[key] = (weakref.ref(streets, lambda _r: _STREET_DRAWINGS.pop(key,
                                                                                     None)),
                                 drawing)
    except TypeError:  # not weak-referenceable: not cached
        pass
    return drawing


def street_drawing(text: str) -> MacroElement:
    """Return street lines (JSON of widths ``w`` and encoded parts ``p``) drawn white.

    One script draws them from the data (offline), instead of a folium GeoJson that
    styles each street in Python at every render.
    """
    element = macro("""
    {% macro script(this, kwargs) %}
    (function(){
      var d = {{ this.sc_data }}, g = {{ this._parent.get_name() }};
      for (var i = 0; i < d.p.length; i++) {
        L.polyline(window.scLatLngs(d.p[i]), {interactive: false, smoothFactor: 1.5,
          color: "#ffffff", weight: d.w[i] + 1, opacity: 1}).addTo(g);
      }
    })();
    {% endmacro %}
    """)
    element.sc_data = text  # type: ignore[attr-defined]
    return element


def street_names(labels: list[list]) -> MacroElement:
    """Return the street names as one script: labels placed only where the map looks.

    ``labels`` are ``[lat, lon, escaped name, rotation in degrees]``. One element with
    the data instead of a folium Marker per name: a city's 10,000 names rendered as
    markers took 25 s of Jinja templates per map, and 10,000 DOM labels slow every pan.
    From :data:`LABEL_MIN_ZOOM` on, the names inside the view (with a margin) are drawn,
    again after each move; they follow the layer they are added to (the layer control).
    """
    element = macro("""
    {% macro script(this, kwargs) %}
    (function(){
      var g = {{ this._parent.get_name() }}, m = {{ this._parent._parent.get_name() }};
      var names = {{ this.sc_data }}, shown = L.layerGroup().addTo(g);
      function place(){
        shown.clearLayers();
        if (m.getZoom() < """ + str(LABEL_MIN_ZOOM) + """) { return; }
        var b = m.getBounds().pad(0.25);
        for (var i = 0; i < names.length; i++) {
          var n = names[i];
          if (!b.contains([n[0], n[1]])) { continue; }
          L.marker([n[0], n[1]], {interactive: false, keyboard: false, icon: L.divIcon({
            className: "sc-street-name", iconSize: [0, 0],
            html: '<div style="transform:translate(-50%,-50%) rotate(' + n[3] + 'deg)">'
                  + n[2] + '</div>'})}).addTo(shown);
        }
      }
      m.on("moveend", place); m.whenReady(place);
    })();
    {% endmacro %}
    """)
    # Given as a value, not as template text: names from the data are never read as Jinja.
    element.sc_data = script_value(labels)  # type: ignore[attr-defined]
    return element


def street_name_style() -> MacroElement:
    """Return the CSS of the street names (which :func:`street_names` places by zoom)."""
    return macro("""
    {% macro header(this, kwargs) %}
    <style>
    .sc-street-name div{white-space:nowrap;font:11px "Noto Sans CJK SC","Microsoft YaHei",
      sans-serif;color:#525252;text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff;
      pointer-events:none}
    </style>
    {% endmacro %}
    """)


def keep_view(view_key: str) -> MacroElement:
    """Return a script that keeps the user's pan and zoom across reruns and map changes.

    The view is kept in the browser tab's sessionStorage under ``view_key`` (the study
    area), so switching category, clicking to add a station or changing language does not
    send the map back to its first view; a new study area starts from its own.
    """
    key = json.dumps("sc-view:" + view_key)
    return macro("""
    {% macro script(this, kwargs) %}
    (function(){
      var m = {{ this._parent.get_name() }}, k = """ + key + """;
      try { var v = JSON.parse(window.sessionStorage.getItem(k));
            if (v) { m.setView([v[0], v[1]], v[2], {animate: false}); } } catch (e) {}
      m.on("moveend", function(){ try { var c = m.getCenter();
            window.sessionStorage.setItem(k, JSON.stringify([c.lat, c.lng, m.getZoom()]));
          } catch (e) {} });
    })();
    {% endmacro %}
    """)


def prompt_clicks() -> MacroElement:
    """Return a script that sends a click on the map to the app at once.

    streamlit-folium (0.27.4, pinned) sends every change of its value 250 ms late (one
    debounce for pans, zooms and clicks alike), a quarter of a second of each click that
    adds a station or selects a block. For a map that returns only what clicks set (the
    point, the object, the drawing clicked), this sends the value it would send as soon
    as its own handlers have stored the click (on a marker or anywhere on the map), and
    marks it sent, so its late send finds nothing new.
    """
    return macro("""
    {% macro script(this, kwargs) %}
    (function(){
      var m = {{ this._parent.get_name() }};
      // Those of its values a click sets, in the order of its own.
      var clicks = ["last_clicked", "last_object_clicked", "last_active_drawing"];
      // On the map's element, not the map: a click on a marker is not the map's click.
      m.getContainer().addEventListener("click", function(){ setTimeout(function(){
        var g = window.__GLOBAL_DATA__, S = window.Streamlit;
        if (!g || !S || !g.returned_objects || !g.returned_objects.length
            || g.wrap_longitude) { return; }
        for (var i = 0; i < g.returned_objects.length; i++) {
          if (clicks.indexOf(g.returned_objects[i]) < 0) { return; } }
        var all = {last_clicked: g.lat_lng_clicked, last_object_clicked: g.last_object_clicked,
                   last_active_drawing: g.last_active_drawing};
        var value = {};
        clicks.forEach(function(k){
          if (g.returned_objects.indexOf(k) >= 0) { value[k] = all[k]; } });
        if (JSON.stringify(g.previous_data) === JSON.stringify(value)) { return; }
        g.previous_data = value;
        S.setComponentValue(value);
      }, 0); });  // after Leaflet's handlers and streamlit-folium's have stored the click
    })();
    {% endmacro %}
    """)


def control_hook(control: folium.LayerControl) -> MacroElement:
    """Return a script that lets layers sent later join the map's layer ``control``.

    The app sends a category's layers to a map already drawn (:func:`overlay_script`);
    each names itself in the control (:func:`overlay_entry`); those sent before leave
    it (:func:`overlay_script`), and a kind the user hid stays hidden.
    """
    element = macro("""
    {% macro script(this, kwargs) %}
    (function(){
      var m = {{ this._parent.get_name() }};
      window.scControl = {{ this.sc_control.get_name() }};
      window.scEntries = {}; window.scHidden = {};
      // Only the user's clicks in the control count (the app's own swaps fire these too).
      function seen(hidden){ return function(e){
        if (e.layer && e.layer.scKind && window.scControl._handlingClick) {
          window.scHidden[e.layer.scKind] = hidden; } }; }
      m.on("overlayremove", seen(true));
      m.on("overlayadd", seen(false));
    })();
    {% endmacro %}
    """)
    element.sc_control = control  # type: ignore[attr-defined]
    return element


def open_control(fmap: folium.Map) -> None:
    """Add the layer control to a map that later layers join (see :func:`control_hook`)."""
    control = folium.LayerControl(collapsed=False)
    control.add_to(fmap)
    control_hook(control).add_to(fmap)


def overlay_entry(kind: str, name: str, *, to_back: bool = False) -> MacroElement:
    """Return a script that puts its layer in the drawn map's control (see control_hook).

    ``kind`` ("circle", "facilities") keeps the user's choice to hide that kind across
    the layers that follow; ``name`` is its label in the control. ``to_back`` draws it
    under the layers already on the map (a service circle under the homes, as in a map
    drawn in one piece). In a map drawn in one piece (an export) the control lists the layer itself
    and the script does nothing.
    """
    element = macro("""
    {% macro script(this, kwargs) %}
    (function(){
      var g = {{ this._parent.get_name() }}, c = window.scControl, k = {{ this.sc_kind }};
      var name = {{ this.sc_name }};
      g.scKind = k;
      if (!c || !c._map) { return; }
      if ({{ this.sc_back }}) { g.on("add", function(){ g.bringToBack(); }); }
      window.scEntries[k] = g;  // the entries sent before left with their layers
      c.addOverlay(g, name);
      if (window.scHidden[k]) { setTimeout(function(){ c._map.removeLayer(g); }, 0); }
    })();
    {% endmacro %}
    """)
    element.sc_kind = json.dumps(kind)  # type: ignore[attr-defined]
    element.sc_back = json.dumps(to_back)  # type: ignore[attr-defined]
    element.sc_name = json.dumps(  # type: ignore[attr-defined]
        escape(name), ensure_ascii=False).replace("</", "<\\/")
    return element


def overlay_script(groups: list[folium.FeatureGroup]) -> str:
    """Return layers as the script streamlit-folium adds to a map already drawn.

    The drawn map stays (its script is unchanged, so the browser keeps the component and
    the user's view); the component removes the layers it added last and runs this
    script. Each group is rendered on a throwaway map, as ``st_folium`` does with
    ``feature_group_to_add``.

    Parameters
    ----------
    groups
        The layers to add (made for this call: rendering renames them).

    Returns
    -------
    str
        JavaScript for streamlit-folium's ``feature_group`` argument.
    """
    import streamlit_folium as sf

    holder = folium.Map(tiles=None)
    # The layers sent last leave the map (the component removes them) and the control.
    text = ("window.feature_group = [];\n"
            "if (window.scControl) { for (var k in window.scEntries) {\n"
            "  window.scControl.removeLayer(window.scEntries[k]); }\n"
            "  window.scEntries = {}; }\n")
    for idx, group in enumerate(groups):
        text += sf._get_feature_group_string(group, holder, idx=idx)
    return text


def base_map(bounds: np.ndarray, *, lang: str = "zh",
             basemap: str | tuple[str, str, str] = "osm",
             leaflet_base: str = LEAFLET_BASE_URL,
             streets: gpd.GeoDataFrame | None = None) -> folium.Map:
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
    streets
        The study area's streets (projected, with ``highway`` and ``name``): drawn with
        their names under every other layer, shown at once without base tiles.
    """
    centre = ((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2)
    # folium annotates zoom_start as int; Leaflet takes the quarter steps of ZOOM_SNAP.
    fmap = folium.Map(location=centre, zoom_start=fit_zoom(bounds),  # type: ignore[arg-type]
                      tiles=None,
                      control_scale=False, prefer_canvas=True, zoom_snap=ZOOM_SNAP,
                      zoom_delta=0.5)
    fmap.default_js = [("leaflet", f"{leaflet_base}/leaflet.js")]
    fmap.default_css = [("leaflet_css", f"{leaflet_base}/leaflet.css")]
    polyline_decoder().add_to(fmap)
    metric_scale_bar().add_to(fmap)
    if basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap",
                         attr=t("osm_attribution", lang)).add_to(fmap)
    elif isinstance(basemap, tuple):
        url, attribution, name = basemap
        folium.TileLayer(url, name=name, attr=attribution).add_to(fmap)
    if streets is not None and len(streets):
        streets_layer(streets, lang=lang, show=basemap == "none").add_to(fmap)
        street_name_style().add_to(fmap)
    keep_view(",".join(f"{v:.4f}" for v in bounds)).add_to(fmap)
    prompt_clicks().add_to(fmap)
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
      <b class="sc-legend-title">""" + html.escape(title) + "</b>" + "".join(rows) + """
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
    a map under ten sessions. The parts are computed here and can be cached. Rendering
    renames elements in place: pass a map made for this call (or :func:`copy_map` of a
    map kept elsewhere; a copy of a city's map takes 1.4 s).
    """
    import streamlit_folium as sf

    m = fmap
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
                    bounds=bounds, zoom=_zoom_of(m.options.get("zoom")))


def _zoom_of(value: object) -> float | None:
    """Return a map's zoom option as a number (None when it has none)."""
    return float(value) if isinstance(value, int | float) else None


def copy_map(fmap: folium.Map) -> folium.Map:
    """Return a copy of a built map for one render (st_folium renames elements in place).

    branca copies an element's template from its ``_template_str``; the project's macro
    elements set it (:func:`macro`), so the legend and the scale bar survive the copy
    (they did not, and the app's coverage map showed no legend).
    """
    return copy.deepcopy(fmap)
