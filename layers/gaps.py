"""Folium layers of gaps and siting: gap areas, proposed sites, stations added by hand."""

from __future__ import annotations

import threading
from collections import OrderedDict

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement

from gis.analysis.gaps import GapResult
from gis.settings import WGS84, Settings
from layers.base import (
    LEAFLET_BASE_URL,
    base_map,
    encoded_shapes,
    escape,
    for_display,
    legend_box,
    macro,
    open_control,
    overlay_entry,
    script_value,
    swatch,
)
from layers.coverage import facilities_layer
from layers.i18n import t

#: Upper bounds of the uncovered-household classes of gap areas, with their colours.
GAP_CLASSES: tuple[tuple[float, str], ...] = (
    (50, "#fee5d9"), (150, "#fcae91"), (400, "#fb6a4a"), (1000, "#de2d26"),
    (float("inf"), "#a50f15"))
PROPOSED_COLOUR = "#7b3294"
ADDED_COLOUR = "#008837"


def gap_colour(households: float) -> str:
    """Return the fill colour of a gap area with ``households`` uncovered."""
    for upper, colour in GAP_CLASSES:
        if households <= upper:
            return colour
    return GAP_CLASSES[-1][1]


def gap_areas_layer(gaps: GapResult, *, lang: str = "zh") -> folium.FeatureGroup:
    """Return the gap areas shaded by uncovered households, with a tooltip each.

    One script draws them from a table and their encoded outlines (a city has 2,000 gap
    areas: through folium's GeoJson 2.6 s and 3.9 MB a map on Malta).
    """
    group = folium.FeatureGroup(name=t("gap_areas", lang), show=True)
    if len(gaps.areas) == 0:
        return group
    areas = gaps.areas
    unit = t("minutes_unit", lang)
    data = {
        "shapes": _gap_outlines(areas.geometry.to_numpy(), areas.crs),
        "fill": [gap_colour(h) for h in areas["households"]],
        "rows": [[int(g), int(h), int(n),
                  escape(v) if isinstance(v, str) and v else "—",
                  f"{m:.1f} {escape(unit)}" if np.isfinite(m) else "—"]
                 for g, h, n, v, m in zip(areas["gap_id"], areas["households"],
                                          areas["homes"], areas["nearest_facility"],
                                          areas["extra_min"].to_numpy(dtype=float),
                                          strict=True)],
        "labels": [escape(t(k, lang)) for k in ("gap_id", "households_uncovered", "homes",
                                                  "nearest_facility", "extra_walk")],
    }
    element = macro("""
    {% macro script(this, kwargs) %}
    (function(){
      var g = {{ this._parent.get_name() }}, d = {{ this.sc_data }};
      for (var i = 0; i < d.shapes.length; i++) {
        var rows = d.rows[i].map(function(v, k){ return [d.labels[k], v]; });
        L.polygon(window.scLatLngs(d.shapes[i]), {fillColor: d.fill[i], color: "#67000d",
                  weight: 1, fillOpacity: 0.6})
          .bindTooltip(window.scTable(rows)).addTo(g);
      }
    })();
    {% endmacro %}
    """)
    # Given as a value, not as template text: names from the data are never read as Jinja.
    element.sc_data = script_value(data)  # type: ignore[attr-defined]
    element.add_to(group)
    return group


#: Encoded outlines of gap areas drawn before, by polygon and CRS: after a click most gaps
#: are the polygons found before it (``find_gaps(reuse=...)``) and are not encoded again.
_OUTLINES: OrderedDict[tuple[shapely.Geometry, str], list] = OrderedDict()
_OUTLINES_KEEP = 50_000
_OUTLINES_LOCK = threading.Lock()


def _gap_outlines(polygons: np.ndarray, crs: object) -> list[list]:
    """Return the encoded outlines of gap polygons for the page (cached per polygon)."""
    tag = str(crs)
    out: list[list | None] = [_OUTLINES.get((g, tag)) for g in polygons]
    todo = [i for i, v in enumerate(out) if v is None]
    if todo:
        shown = for_display(gpd.GeoDataFrame(geometry=polygons[todo], crs=crs))
        codes = encoded_shapes(shown.geometry.values)
        with _OUTLINES_LOCK:  # sessions draw maps at once
            for i, code in zip(todo, codes, strict=True):
                out[i] = _OUTLINES[(polygons[i], tag)] = code
            while len(_OUTLINES) > _OUTLINES_KEEP:
                _OUTLINES.popitem(last=False)
    return [v for v in out if v is not None]


def _numbered_icon(label: str, colour: str) -> folium.DivIcon:
    return folium.DivIcon(
        icon_size=(24, 24), icon_anchor=(12, 12),
        html=(f'<div style="width:22px;height:22px;border-radius:4px;background:{colour};'
              'color:#fff;border:2px solid #fff;box-shadow:0 0 3px #000;font:bold 12px/22px '
              f'sans-serif;text-align:center">{escape(label)}</div>'))


def proposed_sites_layer(sites: gpd.GeoDataFrame, circles: gpd.GeoSeries | None, *,
                         lang: str = "zh") -> folium.FeatureGroup:
    """Return proposed sites as numbered squares with their gains, and their circles."""
    group = folium.FeatureGroup(name=t("proposed_sites", lang), show=True)
    if len(sites) == 0:
        return group
    if circles is not None and len(circles):
        shapes = for_display(gpd.GeoDataFrame(geometry=circles.to_numpy(), crs=circles.crs))
        folium.GeoJson(shapes.to_json(drop_id=True), interactive=False,
                       style_function=lambda _f: {"color": PROPOSED_COLOUR, "weight": 2,
                                                  "dashArray": "6 4", "fillOpacity": 0.05,
                                                  "fillColor": PROPOSED_COLOUR}).add_to(group)
    pts = sites.to_crs(WGS84)
    for _, row in pts.iterrows():
        tip = (f"<b>{escape(t('proposed_site', lang))} {int(row['rank'])}</b><br>"
               f"{escape(t('gain', lang))}: {int(row['gain_households'])}")
        for label in ("community", "grid"):
            if label in pts and isinstance(row.get(label), str):
                tip += f"<br>{escape(t(label, lang))}: {escape(row[label])}"
        folium.Marker((row.geometry.y, row.geometry.x), tooltip=tip,
                      icon=_numbered_icon(str(int(row["rank"])), PROPOSED_COLOUR)).add_to(group)
    return group


CLOSED_COLOUR = "#636363"


def _change_layer(points_wgs84: list[tuple[float, float]], name: str, tip: str, mark: str,
                  colour: str) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=name, show=True)
    for lon, lat in points_wgs84:
        folium.Marker((lat, lon), tooltip=tip, icon=_numbered_icon(mark, colour)).add_to(group)
    return group


def added_stations_layer(points_wgs84: list[tuple[float, float]], *,
                         lang: str = "zh") -> folium.FeatureGroup:
    """Return stations added by hand in the current scenario, as green '+' squares."""
    return _change_layer(points_wgs84, t("added_stations", lang), t("added_station", lang),
                         "+", ADDED_COLOUR)


def closed_facilities_layer(points_wgs84: list[tuple[float, float]], *,
                            lang: str = "zh") -> folium.FeatureGroup:
    """Return existing facilities closed in the current scenario, as grey '×' squares."""
    return _change_layer(points_wgs84, t("closed_facilities", lang),
                         t("closed_facility", lang), "×", CLOSED_COLOUR)


PICKED_COLOUR = "#e6550d"


def picked_layer(point_wgs84: tuple[float, float], *, lang: str = "zh") -> folium.FeatureGroup:
    """Return the station or facility picked to be moved, ringed until it is placed."""
    group = folium.FeatureGroup(name=t("picked_to_move", lang), show=True)
    lon, lat = point_wgs84
    folium.CircleMarker((lat, lon), radius=16, color=PICKED_COLOUR, weight=4, fill=False,
                        dash_array="4 3", interactive=False).add_to(group)
    return group


def gaps_legend(*, lang: str = "zh") -> MacroElement:
    """Return a legend of gap-area classes and site markers."""
    rows = []
    lower = 0.0
    for upper, colour in GAP_CLASSES:
        label = f"{lower:.0f}–{upper:.0f}" if np.isfinite(upper) else f"> {lower:.0f}"
        rows.append(swatch(f"background:{colour}", label))
        lower = upper
    rows.append(swatch(f"background:{PROPOSED_COLOUR}", t("proposed_sites", lang)))
    rows.append(swatch(f"background:{ADDED_COLOUR}", t("added_stations", lang)))
    rows.append(swatch(f"background:{CLOSED_COLOUR}", t("closed_facilities", lang)))
    rows.append(swatch(f"border:3px dashed {PICKED_COLOUR};border-radius:50%",
                       t("picked_to_move", lang)))
    return legend_box(t("legend_gaps", lang), rows)


def gaps_layers(gaps: GapResult, facilities: gpd.GeoDataFrame, settings: Settings, *,
                sites: gpd.GeoDataFrame | None = None,
                circles: gpd.GeoSeries | None = None,
                added: list[tuple[float, float]] | None = None,
                closed: list[tuple[float, float]] | None = None, lang: str = "zh",
                picked: tuple[float, float] | None = None) -> list[folium.FeatureGroup]:
    """Return the layers of the gaps map that a scenario or a category changes.

    Gap areas, the category's facilities, proposed sites, stations added and facilities
    closed, the station picked to be moved: each layer names itself in the drawn map's
    control (:func:`layers.base.overlay_entry`), so the app sends only these on a click.

    Parameters
    ----------
    gaps
        The gaps shown (after the scenario's changes).
    facilities
        The analysis' facilities.
    settings
        Settings (category names).
    sites, circles
        Proposed sites (``rank``, ``gain_households``) and their service circles.
    added, closed
        (lon, lat) of stations added and of facilities closed by the scenario.
    lang
        ``"zh"`` or ``"en"``.
    picked
        (lon, lat) of a station waiting for its new place.

    Returns
    -------
    list of folium.FeatureGroup
        The layers, bottom first.
    """
    layers = [(gap_areas_layer(gaps, lang=lang), "gaps")]
    if gaps.category in settings.category_ids:
        layers.append((facilities_layer(facilities, gaps.category, settings, lang=lang),
                       "facilities"))
    if sites is not None:
        layers.append((proposed_sites_layer(sites, circles, lang=lang), "proposed"))
    if added:
        layers.append((added_stations_layer(added, lang=lang), "added"))
    if closed:
        layers.append((closed_facilities_layer(closed, lang=lang), "closed"))
    if picked is not None:
        layers.append((picked_layer(picked, lang=lang), "picked"))
    for group, kind in layers:
        overlay_entry(kind, group.layer_name).add_to(group)
    return [group for group, _kind in layers]


def gaps_base_map(bounds: np.ndarray, *, lang: str = "zh",
                  basemap: str | tuple[str, str, str] = "osm",
                  leaflet_base: str = LEAFLET_BASE_URL,
                  streets: gpd.GeoDataFrame | None = None) -> folium.Map:
    """Return the part of the gaps map no scenario changes: streets, legend, control.

    Parameters
    ----------
    bounds
        (w, s, e, n) degrees framing the map.
    lang
        ``"zh"`` or ``"en"``.
    basemap
        ``"osm"``, ``"none"`` or (tile URL, attribution, name).
    leaflet_base
        URL folder of leaflet.js and leaflet.css.
    streets
        The study area's streets, drawn with their names under the other layers.

    Returns
    -------
    folium.Map
        The map, for :func:`gaps_layers` to be sent to.
    """
    fmap = base_map(bounds, lang=lang, basemap=basemap, leaflet_base=leaflet_base,
                    streets=streets)
    gaps_legend(lang=lang).add_to(fmap)
    open_control(fmap)
    return fmap


def gaps_map(gaps: GapResult, facilities: gpd.GeoDataFrame, settings: Settings, *,
             bounds: np.ndarray, sites: gpd.GeoDataFrame | None = None,
             circles: gpd.GeoSeries | None = None,
             added: list[tuple[float, float]] | None = None,
             closed: list[tuple[float, float]] | None = None, lang: str = "zh",
             basemap: str | tuple[str, str, str] = "osm",
             leaflet_base: str = LEAFLET_BASE_URL,
             streets: gpd.GeoDataFrame | None = None,
             picked: tuple[float, float] | None = None) -> folium.Map:
    """Return the gaps map: gap areas, existing facilities, proposals, added stations.

    ``bounds`` (w, s, e, n degrees) frames the map; ``added`` are (lon, lat) points;
    ``streets`` are drawn with their names under the other layers; ``picked`` is the
    (lon, lat) of a station waiting for its new place.
    """
    fmap = base_map(bounds, lang=lang, basemap=basemap, leaflet_base=leaflet_base,
                    streets=streets)
    for layer in gaps_layers(gaps, facilities, settings, sites=sites, circles=circles,
                             added=added, closed=closed, lang=lang, picked=picked):
        layer.add_to(fmap)
    gaps_legend(lang=lang).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap

