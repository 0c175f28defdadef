"""Folium layers of a coverage result: homes by walking time, facilities, circles, legend.

This is the only place that picks colours, tooltips and legends. Inputs are gis results
in any CRS; everything is converted to WGS-84 here, simplified for display and rounded to
six decimals (about 10 cm) to keep the page small.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement

from gis.analysis.coverage import CoverageResult
from gis.settings import WGS84, Settings
from layers.base import (
    CIRCLE_SIMPLIFY_M,
    HOMES_AS_POINTS_ABOVE,
    LEAFLET_BASE_URL,
    base_map,
    escape,
    for_display,
    legend_box,
    swatch,
)
from layers.i18n import t

#: Walking-time classes in minutes, upper bounds, with their colours: five steps of
#: viridis, light for near and dark for far, so that the order reads the same under every
#: common colour-vision deficiency (the red-yellow-green ramp it replaced made 0-5 and
#: > 20 minutes look alike under deuteranopia; tests/test_layers.py checks the pairs).
TIME_CLASSES: tuple[tuple[float, str], ...] = (
    (5.0, "#fde725"),
    (10.0, "#7ad151"),
    (15.0, "#22a884"),
    (20.0, "#2a788e"),
    (float("inf"), "#414487"),
)
UNREACHABLE_COLOUR = "#d9d9d9"
CIRCLE_COLOUR = "#e66101"

#: One marker shape per category, drawn as inline SVG (no icon font or plugin, so it works
#: offline). Markers are dark with a white rim: the walking-time classes own the colours.
CATEGORY_SHAPES = {
    "community_service": "square",
    "health": "cross",
    "elderly_care": "triangle",
    "catering": "diamond",
    "daily_retail": "pentagon",
    "household_services": "hexagon",
}
MARKER_FILL = "#1b1b1b"
FRANCHISE_RIM = "#d4a017"
#: The same shapes as matplotlib markers, for the printed report.
MPL_MARKERS = {"square": "s", "cross": "P", "triangle": "^", "diamond": "D",
               "pentagon": "p", "hexagon": "h", "circle": "o"}


def category_shape(category: str) -> str:
    """Return the marker shape of a category (a circle for one not in the catalogue)."""
    return CATEGORY_SHAPES.get(category, "circle")


def _polygon(n: int, r: float, c: float, turn: float) -> str:
    pts = [(c + r * np.cos(turn + 2 * np.pi * k / n), c + r * np.sin(turn + 2 * np.pi * k / n))
           for k in range(n)]
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)


def marker_svg(shape: str, size: int = 16, *, rim: str = "#ffffff", rim_width: float = 1.5,
               fill: str = MARKER_FILL) -> str:
    """Return an inline SVG of a marker ``shape`` of ``size`` pixels."""
    c = size / 2
    r = c - rim_width
    style = f'fill="{fill}" stroke="{rim}" stroke-width="{rim_width}"'
    if shape == "square":
        body = f'<rect x="{c - r * 0.8:.1f}" y="{c - r * 0.8:.1f}" width="{1.6 * r:.1f}" ' \
               f'height="{1.6 * r:.1f}" {style}/>'
    elif shape == "cross":
        a, b = r * 0.38, r
        pts = [(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b), (-a, a),
               (-b, a), (-b, -a), (-a, -a)]
        body = '<polygon points="' + " ".join(f"{c + x:.1f},{c + y:.1f}" for x, y in pts) \
            + f'" {style}/>'
    elif shape in ("triangle", "diamond", "pentagon", "hexagon"):
        n = {"triangle": 3, "diamond": 4, "pentagon": 5, "hexagon": 6}[shape]
        body = f'<polygon points="{_polygon(n, r, c, -np.pi / 2)}" {style}/>'
    else:
        body = f'<circle cx="{c}" cy="{c}" r="{r * 0.85:.1f}" {style}/>'
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
            f'viewBox="0 0 {size} {size}">{body}</svg>')


def time_colour(minutes: float) -> str:
    """Return the fill colour of a walking time in minutes (grey when unreachable)."""
    if minutes is None or not np.isfinite(minutes):
        return UNREACHABLE_COLOUR
    for upper, colour in TIME_CLASSES:
        if minutes <= upper:
            return colour
    return TIME_CLASSES[-1][1]


def homes_layer(result: CoverageResult, category: str, settings: Settings, *,
                lang: str = "zh") -> folium.FeatureGroup:
    """Return residential buildings coloured by walking time to ``category``.

    The tooltip shows households and minutes to the nearest facility of every category.
    Above ``HOMES_AS_POINTS_ABOVE`` homes each is a dot at its centroid (a city's
    outlines would be slow to send and to draw) and the tooltip gives the minutes to the
    category shown only.
    """
    cats = result.categories
    homes = result.homes
    as_points = len(homes) > HOMES_AS_POINTS_ABOVE
    geometry = homes.geometry.centroid if as_points else homes.geometry
    props = gpd.GeoDataFrame({
        "fill": [time_colour(m) for m in homes[f"time_min_{category}"].to_numpy()],
        "hh": homes["households"].astype(int).to_numpy(),
        "name": homes["name"].fillna("").astype(str).to_numpy() if "name" in homes else "",
        "est": is_estimated(homes),
        "src": [t("hh_src_" + str(v).replace(" ", "_"), lang) for v in
                (homes["hh_source"].fillna("estimated from floors") if "hh_source" in homes
                 else ["estimated from floors"] * len(homes))],
    }, geometry=geometry.to_numpy(), crs=homes.crs)
    unit = t("minutes_unit", lang)
    if as_points:  # a city: the tooltip gives the category shown, to keep the page light
        cats = (category,)
    for cid in cats:
        mins = homes[f"time_min_{cid}"].to_numpy()
        props[cid] = [f"{m:.1f} {unit}" if np.isfinite(m) else t("unreachable", lang)
                      for m in mins]
    props = for_display(props)
    fields = ["name", "hh", "src", *cats]
    aliases = [t("name", lang), t("households", lang), t("hh_source", lang),
               *(settings.category(c).name(lang) for c in cats)]
    group = folium.FeatureGroup(name=t("homes", lang), show=True)
    folium.GeoJson(
        props.to_json(drop_id=True),
        name=t("homes", lang),
        # Households estimated from an area's size (no building mapped): dashed, paler.
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#444444",
                                  "weight": 1.5 if f["properties"]["est"] else 0.5,
                                  "dashArray": "4 3" if f["properties"]["est"] else None,
                                  "fillOpacity": 0.45 if f["properties"]["est"] else 0.85},
        highlight_function=lambda _f: {"weight": 2, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=False),
        marker=folium.CircleMarker(radius=3) if as_points else None,
    ).add_to(group)
    return group


def facilities_layer(facilities: gpd.GeoDataFrame, category: str, settings: Settings, *,
                     lang: str = "zh", served: pd.Series | None = None,
                     ) -> folium.FeatureGroup:
    """Return the facilities of ``category`` as markers; franchise merchants ringed gold.

    ``served`` (households within each facility's circle, indexed like ``facilities``)
    goes into the tooltip.
    """
    cat = settings.category(category)
    fac = facilities[facilities["category"] == category]
    group = folium.FeatureGroup(name=f"{t('facilities', lang)}: {cat.name(lang)}", show=True)
    if len(fac) == 0:
        return group
    fac = for_display(fac)
    shape = category_shape(category)
    for _, row in fac.iterrows():
        name = row.get("name")
        name = str(name) if isinstance(name, str) and name else t("unnamed", lang)
        franchise = bool(row.get("franchise", False))
        kind = (t("franchise", lang) if franchise
                else t("candidate_merchant", lang) if cat.merchant
                else t("public_facility", lang))
        tip = f"<b>{escape(name)}</b><br>{escape(cat.name(lang))} · {kind}"
        if served is not None and row.name in served.index:
            tip += f"<br>{escape(t('households_in_circle', lang))}: {served[row.name]:,}"
        size = 18 if franchise else 16
        svg = marker_svg(shape, size, rim=FRANCHISE_RIM if franchise else "#ffffff",
                         rim_width=2.5 if franchise else 1.5)
        folium.Marker(
            location=(row.geometry.y, row.geometry.x), tooltip=tip,
            icon=folium.DivIcon(html=svg, icon_size=(size, size),
                                icon_anchor=(size // 2, size // 2), class_name="fac-marker"),
        ).add_to(group)
    return group


def circle_layer(circle: shapely.Geometry, crs: object, category_name: str, *,
                 lang: str = "zh") -> folium.FeatureGroup:
    """Return the service circle polygon of a category (union of its facilities' areas)."""
    group = folium.FeatureGroup(name=f"{t('service_circle', lang)}: {category_name}",
                                show=True)
    if circle is None or circle.is_empty:
        return group
    gdf = for_display(gpd.GeoDataFrame(geometry=[circle], crs=crs),
                      simplify_m=CIRCLE_SIMPLIFY_M)
    folium.GeoJson(
        gdf.to_json(drop_id=True),
        style_function=lambda _f: {"color": CIRCLE_COLOUR, "weight": 1.5,
                                   "fillColor": CIRCLE_COLOUR, "fillOpacity": 0.12},
        interactive=False,
    ).add_to(group)
    return group


def is_estimated(homes: gpd.GeoDataFrame) -> np.ndarray:
    """Return which homes have households estimated from an area (no building mapped)."""
    if "hh_source" not in homes:
        return np.zeros(len(homes), dtype=bool)
    return homes["hh_source"].to_numpy(dtype=object) == "estimated from area"


def legend(category_name: str, *, lang: str = "zh", estimated: bool = False,
           category: str | None = None) -> MacroElement:
    """Return a fixed legend of the walking-time classes in minutes.

    ``estimated`` adds the dashed outline of homes whose households are estimated from
    the area of a residential area without mapped buildings.
    """
    unit = t("minutes_unit", lang)
    rows = []
    lower = 0.0
    for upper, colour in TIME_CLASSES:
        label = (f"{lower:.0f}–{upper:.0f} {unit}" if np.isfinite(upper)
                 else f"> {lower:.0f} {unit}")
        rows.append(swatch(f"background:{colour}", label))
        lower = upper
    rows.append(swatch(f"background:{UNREACHABLE_COLOUR}", t("unreachable", lang)))
    rows.append(swatch(f"background:{CIRCLE_COLOUR};opacity:.35", t("service_circle", lang)))
    if category is not None:
        rows.append(f'<div>{marker_svg(category_shape(category), 12)} '
                    f'{escape(t("facilities", lang))}: {escape(category_name)}</div>')
    if estimated:
        rows.append(swatch("border:1.5px dashed #444444;background:#dddddd",
                           t("hh_estimated_area", lang)))
    return legend_box(t("legend_title", lang, cat=category_name), rows)


def coverage_map(result: CoverageResult, category: str, settings: Settings, *,
                 circle: shapely.Geometry | None = None, lang: str = "zh",
                 served: pd.Series | None = None, extra_layers: list | None = None,
                 basemap: str | tuple[str, str, str] = "osm",
                 leaflet_base: str = LEAFLET_BASE_URL,
                 streets: gpd.GeoDataFrame | None = None) -> folium.Map:
    """Return the coverage map of one category: homes, facilities, circle and legend.

    Parameters
    ----------
    result
        A coverage result.
    category
        The category to colour homes by.
    settings
        Settings (category names).
    circle
        The category's service circle, in the result's CRS.
    lang
        ``"zh"`` or ``"en"``.
    basemap
        ``"osm"`` for OpenStreetMap tiles, ``"none"`` for a blank background that works
        offline.
    leaflet_base
        URL folder of leaflet.js and leaflet.css. Only Leaflet is loaded: the map uses no
        jQuery, Bootstrap or icon fonts, so nothing comes from a CDN.
    served
        Households inside each facility's circle, for the facility tooltips.
    extra_layers
        Further folium layers to add (e.g. communities and grids), toggled in the control.
    streets
        The study area's streets, drawn with their names under the other layers (see
        :func:`layers.base.streets_layer`).
    """
    fmap = base_map(result.homes.to_crs(WGS84).total_bounds, lang=lang, basemap=basemap,
                    leaflet_base=leaflet_base, streets=streets)
    cat_name = settings.category(category).name(lang)
    if circle is not None:
        circle_layer(circle, result.homes.crs, cat_name, lang=lang).add_to(fmap)
    homes_layer(result, category, settings, lang=lang).add_to(fmap)
    facilities_layer(result.facilities, category, settings, lang=lang,
                     served=served).add_to(fmap)
    for layer in extra_layers or []:
        layer.add_to(fmap)
    legend(cat_name, lang=lang, estimated=bool(is_estimated(result.homes).any()),
           category=category).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap
