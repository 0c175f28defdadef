"""Folium layers of a coverage result: homes by walking time, facilities, circles, legend.

This is the only place that picks colours, tooltips and legends. Inputs are gis results
in any CRS; everything is converted to WGS-84 here, simplified for display and rounded to
six decimals (about 10 cm) to keep the page small.
"""

from __future__ import annotations

import json

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
    encode_polylines,
    encoded_shapes,
    escape,
    for_display,
    legend_box,
    macro,
    open_control,
    overlay_entry,
    screen_outline,
    script_value,
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


def _metres(values: np.ndarray) -> list[int | None]:
    """Return walking distances rounded up to the metre for the page (None: unreachable).

    Rounded up, a home is within a whole-metre threshold on the page exactly when the
    analysis counts it covered (800.4 m is 801 m, not 800 m).
    """
    v = np.ceil(np.asarray(values, dtype=float))
    return [int(m) if np.isfinite(m) else None for m in v]


def speeds(result: CoverageResult) -> dict[str, float]:
    """Return each category's walking speed (metres a minute) in ``result``'s profile."""
    return {c: float(th.speed_m_per_min) for c, th in result.thresholds.items()}


def homes_layer(result: CoverageResult, category: str, settings: Settings, *,
                lang: str = "zh") -> folium.FeatureGroup:
    """Return residential buildings coloured by walking time to ``category``.

    Every category's walking distance goes to the page with the homes, and one script
    styles them by the minutes at the category's walking speed: :func:`show_category`
    recolours the homes in the browser for another category or another walking profile
    (the distances are the same, the speed differs), so the app switches either without
    sending the homes again (on Malta 10,732 homes, 2 MB). The tooltip
    shows households, their source and the minutes to every category. Above
    ``HOMES_AS_POINTS_ABOVE`` homes each is a dot at its centroid (a city's outlines
    would be slow to send and to draw).
    """
    homes = result.homes
    as_points = len(homes) > HOMES_AS_POINTS_ABOVE
    geometry = homes.geometry.centroid if as_points else homes.geometry
    shown = for_display(gpd.GeoDataFrame(geometry=geometry.to_numpy(), crs=homes.crs))
    if as_points:  # one encoded run of all the dots
        shapes: object = encode_polylines(shapely.get_coordinates(shown.geometry.values),
                                          np.array([0]))[0] if len(shown) else ""
    else:
        shapes = encoded_shapes(shown.geometry.values)
    sources = (homes["hh_source"].fillna("estimated from floors").astype(str)
               if "hh_source" in homes else pd.Series("estimated from floors",
                                                      index=homes.index))
    codes, labels = pd.factorize(sources)
    names = (homes["name"].fillna("").astype(str) if "name" in homes
             else pd.Series("", index=homes.index))
    upper = [u if np.isfinite(u) else None for u, _c in TIME_CLASSES]
    data = {
        "cat": category,
        "dots": bool(as_points),
        "shapes": shapes,
        "hh": homes["households"].astype(int).tolist(),
        "est": is_estimated(homes).astype(int).tolist(),
        "src": codes.tolist(),
        "srcNames": [escape(t("hh_src_" + v.replace(" ", "_"), lang)) for v in labels],
        "name": [escape(v) for v in names],
        "m": {c: _metres(homes[f"dist_m_{c}"].to_numpy()) for c in result.categories},
        "speed": speeds(result),
        "cats": list(result.categories),
        "catNames": [escape(settings.category(c).name(lang)) for c in result.categories],
        "labels": [escape(t(k, lang)) for k in ("name", "households", "hh_source")],
        "unit": escape(t("minutes_unit", lang)),
        "unreachable": escape(t("unreachable", lang)),
        "classes": [[u, c] for u, (_x, c) in zip(upper, TIME_CLASSES, strict=True)],
        "grey": UNREACHABLE_COLOUR,
    }
    text = json.dumps(data, ensure_ascii=False)
    element = macro("""
    {% macro script(this, kwargs) %}
    (function(){
      var g = {{ this._parent.get_name() }};
      var d = {{ this.sc_data }};
      var S = window.scHomes = {cat: d.cat, speed: d.speed};
      function minutes(c, i){
        var m = d.m[c] ? d.m[c][i] : null;
        return m === null || m === undefined ? null : m / S.speed[c];
      }
      function colour(m){
        if (m === null || m === undefined) { return d.grey; }
        for (var k = 0; k < d.classes.length; k++) {
          if (d.classes[k][0] === null || m <= d.classes[k][0]) { return d.classes[k][1]; }
        }
        return d.grey;
      }
      function style(f){
        var i = f.properties.i, e = d.est[i];
        return {fillColor: colour(minutes(S.cat, i)), color: "#444444",
                weight: e ? 1.5 : 0.5, dashArray: e ? "4 3" : null,
                fillOpacity: e ? 0.45 : 0.85};
      }
      function tip(l){
        var i = l.feature.properties.i;
        var rows = [[d.labels[0], d.name[i]], [d.labels[1], d.hh[i]],
                    [d.labels[2], d.srcNames[d.src[i]]]];
        for (var k = 0; k < d.cats.length; k++) {
          var m = minutes(d.cats[k], i);
          rows.push([d.catNames[k], m === null ? d.unreachable : m.toFixed(1) + " " + d.unit]);
        }
        return window.scTable(rows);
      }
      var layer = L.featureGroup();
      var at = d.dots ? window.scDecode(d.shapes) : null;
      for (var i = 0; i < d.hh.length; i++) {
        var f = {properties: {i: i}};
        var home = d.dots ? L.circleMarker(at[i], {radius: 3})
                          : L.polygon(window.scLatLngs(d.shapes[i]));
        home.feature = f;
        home.setStyle(style(f));
        layer.addLayer(home);
      }
      layer.bindTooltip(tip, {sticky: false});
      layer.on("mouseover", function(e){ e.layer.setStyle({weight: 2, color: "#000000"}); });
      layer.on("mouseout", function(e){ e.layer.setStyle(style(e.layer.feature)); });
      layer.addTo(g);
      S.setCategory = function(c, speed){
        S.cat = c;
        if (speed) { S.speed = speed; }
        layer.eachLayer(function(l){ l.setStyle(style(l.feature)); });
      };
    })();
    {% endmacro %}
    """)
    # Given as values, not as template text: names from the data are never read as Jinja.
    element.sc_data = text.replace("</", "<\\/")  # type: ignore[attr-defined]
    group = folium.FeatureGroup(name=t("homes", lang), show=True)
    element.add_to(group)
    return group


def show_category(category: str, category_name: str, *, lang: str = "zh",
                  speed: dict[str, float] | None = None) -> MacroElement:
    """Return a script that colours the homes by ``category`` and retitles the legend.

    The homes of :func:`homes_layer` carry every category's walking distance: this is
    all a switch of category changes on them. ``speed`` (metres a minute per category,
    see :func:`speeds`) sets the walking profile the minutes are shown for.
    """
    title = json.dumps(escape(t("legend_title", lang, cat=category_name)), ensure_ascii=False)
    row = json.dumps(_facility_row(category, category_name, lang), ensure_ascii=False)
    element = macro("""
    {% macro script(this, kwargs) %}
    (function(){
      if (window.scHomes) {
        window.scHomes.setCategory({{ this.sc_cat }}, {{ this.sc_speed }});
      }
      var box = document.querySelectorAll(".sc-legend");
      for (var k = 0; k < box.length; k++) {
        var t = box[k].querySelector(".sc-legend-title");
        var f = box[k].querySelector(".sc-legend-fac");
        if (t) { t.innerHTML = {{ this.sc_title }}; }
        if (f) { f.innerHTML = {{ this.sc_row }}; }
      }
    })();
    {% endmacro %}
    """)
    element.sc_cat = json.dumps(category).replace("</", "<\\/")  # type: ignore[attr-defined]
    element.sc_speed = json.dumps(speed)  # type: ignore[attr-defined]
    element.sc_title = title.replace("</", "<\\/")  # type: ignore[attr-defined]
    element.sc_row = row.replace("</", "<\\/")  # type: ignore[attr-defined]
    return element


def facilities_layer(facilities: gpd.GeoDataFrame, category: str, settings: Settings, *,
                     lang: str = "zh", served: pd.Series | None = None,
                     ) -> folium.FeatureGroup:
    """Return the facilities of ``category`` as markers; franchise merchants ringed gold.

    ``served`` (households within each facility's circle, indexed like ``facilities``)
    goes into the tooltip. One script places the markers from a table (name, kind,
    households): a folium Marker each wrote 600 bytes of script per facility (2 MB for
    Malta's 3,000 shops and restaurants).
    """
    cat = settings.category(category)
    fac = facilities[facilities["category"] == category]
    group = folium.FeatureGroup(name=f"{t('facilities', lang)}: {cat.name(lang)}", show=True)
    if len(fac) == 0:
        return group
    shown = for_display(fac[[fac.geometry.name]])
    names = fac["name"] if "name" in fac else pd.Series(None, index=fac.index)
    franchise = (fac["franchise"].fillna(False).astype(bool) if "franchise" in fac
                 else pd.Series(False, index=fac.index))
    kinds = [escape(t("public_facility", lang)), escape(t("franchise", lang))]
    if cat.merchant:
        kinds[0] = escape(t("candidate_merchant", lang))
    counts = (served.reindex(fac.index) if served is not None
              else pd.Series(np.nan, index=fac.index))
    shape = category_shape(category)
    data = {
        "at": [[round(p.y, 6), round(p.x, 6)] for p in shown.geometry],
        "name": [escape(v) if isinstance(v, str) and v else None for v in names],
        "f": franchise.astype(int).tolist(),
        "n": [None if pd.isna(v) else int(v) for v in counts],
        "unnamed": escape(t("unnamed", lang)),
        "cat": escape(cat.name(lang)),
        "kinds": kinds,
        "servedLabel": escape(t("households_in_circle", lang)),
        "icons": [marker_svg(shape, 16), marker_svg(shape, 18, rim=FRANCHISE_RIM,
                                                     rim_width=2.5)],
    }
    element = macro("""
    {% macro script(this, kwargs) %}
    (function(){
      var g = {{ this._parent.get_name() }}, d = {{ this.sc_data }};
      for (var i = 0; i < d.at.length; i++) {
        var f = d.f[i], size = f ? 18 : 16;
        var tip = "<b>" + (d.name[i] === null ? d.unnamed : d.name[i]) + "</b><br>" + d.cat
                  + " · " + d.kinds[f];
        if (d.n[i] !== null) { tip += "<br>" + d.servedLabel + ": " + d.n[i].toLocaleString("en"); }
        L.marker(d.at[i], {icon: L.divIcon({html: d.icons[f], iconSize: [size, size],
          iconAnchor: [size / 2, size / 2], className: "fac-marker"})})
          .bindTooltip(tip, {sticky: true}).addTo(g);
      }
    })();
    {% endmacro %}
    """)
    # Given as a value, not as template text: names from the data are never read as Jinja.
    element.sc_data = script_value(data)  # type: ignore[attr-defined]
    element.add_to(group)
    return group


def circle_layer(circle: shapely.Geometry, crs: object, category_name: str, *,
                 lang: str = "zh") -> folium.FeatureGroup:
    """Return the service circle polygon of a category (union of its facilities' areas).

    Simplified ring by ring (:func:`layers.base.screen_outline`) and written as encoded
    polylines into one script: a city's circle has 50,000 points after simplification,
    and through folium's GeoJson it took 1.5 s and 1.3 MB a map on Malta.
    """
    group = folium.FeatureGroup(name=f"{t('service_circle', lang)}: {category_name}",
                                show=True)
    if circle is None or circle.is_empty:
        return group
    outline = screen_outline(circle, CIRCLE_SIMPLIFY_M) if crs_is_projected(crs) else circle
    gdf = for_display(gpd.GeoDataFrame(geometry=[outline], crs=crs), simplify_m=0.0)
    element = macro("""
    {% macro script(this, kwargs) %}
    L.polygon(window.scLatLngs({{ this.sc_data }}),
              Object.assign({interactive: false}, {{ this.sc_style }}))
      .addTo({{ this._parent.get_name() }});
    {% endmacro %}
    """)
    element.sc_data = json.dumps(  # type: ignore[attr-defined]
        encoded_shapes(gdf.geometry.values)[0])
    element.sc_style = json.dumps({  # type: ignore[attr-defined]
        "color": CIRCLE_COLOUR, "weight": 1.5, "fillColor": CIRCLE_COLOUR,
        "fillOpacity": 0.12})
    element.add_to(group)
    return group


def crs_is_projected(crs: object) -> bool:
    """Return whether ``crs`` (anything pyproj reads) is in metres."""
    from pyproj import CRS

    return crs is not None and CRS.from_user_input(crs).is_projected


def is_estimated(homes: gpd.GeoDataFrame) -> np.ndarray:
    """Return which homes have households estimated from an area (no building mapped)."""
    if "hh_source" not in homes:
        return np.zeros(len(homes), dtype=bool)
    return homes["hh_source"].to_numpy(dtype=object) == "estimated from area"


def _facility_row(category: str, category_name: str, lang: str) -> str:
    """Return the legend's facility row: the category's marker and name (escaped HTML)."""
    return (f'{marker_svg(category_shape(category), 12)} '
            f'{escape(t("facilities", lang))}: {escape(category_name)}')


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
        rows.append(f'<div class="sc-legend-fac">'
                    f'{_facility_row(category, category_name, lang)}</div>')
    if estimated:
        rows.append(swatch("border:1.5px dashed #444444;background:#dddddd",
                           t("hh_estimated_area", lang)))
    return legend_box(t("legend_title", lang, cat=category_name), rows)


def category_layers(result: CoverageResult, category: str, settings: Settings, *,
                    circle: shapely.Geometry | None = None, lang: str = "zh",
                    served: pd.Series | None = None) -> list[folium.FeatureGroup]:
    """Return what a category adds to the coverage map: its circle and its facilities.

    The first layer also carries :func:`show_category`, so adding these layers to a map
    of :func:`coverage_base_map` (or sending them to the drawn map, see
    :func:`layers.base.overlay_script`) switches the homes and the legend to ``category``,
    the homes' minutes at the walking speeds of ``result`` (its profile).

    Parameters
    ----------
    result
        A coverage result.
    category
        The category shown.
    settings
        Settings (category names).
    circle
        The category's service circle, in the result's CRS (None: not drawn).
    lang
        ``"zh"`` or ``"en"``.
    served
        Households inside each facility's circle, for the facility tooltips.

    Returns
    -------
    list of folium.FeatureGroup
        The service circle's layer, then the facilities' layer.
    """
    cat_name = settings.category(category).name(lang)
    circles = circle_layer(circle, result.homes.crs, cat_name, lang=lang)
    facilities = facilities_layer(result.facilities, category, settings, lang=lang,
                                  served=served)
    show_category(category, cat_name, lang=lang, speed=speeds(result)).add_to(circles)
    overlay_entry("circle", circles.layer_name, to_back=True).add_to(circles)
    overlay_entry("facilities", facilities.layer_name).add_to(facilities)
    return [circles, facilities]


def coverage_base_map(result: CoverageResult, settings: Settings, *, lang: str = "zh",
                      extra_layers: list | None = None,
                      basemap: str | tuple[str, str, str] = "osm",
                      leaflet_base: str = LEAFLET_BASE_URL,
                      streets: gpd.GeoDataFrame | None = None) -> folium.Map:
    """Return the part of the coverage map that no category changes.

    Streets, the homes with every category's distance (:func:`homes_layer`), the extra
    layers, the legend and the layer control; :func:`category_layers` adds a category.
    The app draws this once per study area and gate choice (no threshold or walking
    profile changes it) and sends only a category's layers on a switch. Parameters as
    for :func:`coverage_map`.

    Parameters
    ----------
    result
        A coverage result.
    settings
        Settings (category names).
    lang
        ``"zh"`` or ``"en"``.
    extra_layers
        Further folium layers (e.g. communities and grids), toggled in the control.
    basemap
        ``"osm"``, ``"none"`` or (tile URL, attribution, name).
    leaflet_base
        URL folder of leaflet.js and leaflet.css.
    streets
        The study area's streets, drawn with their names under the other layers.

    Returns
    -------
    folium.Map
        The map, coloured by the first category until one is shown.
    """
    first = result.categories[0]
    fmap = base_map(result.homes.to_crs(WGS84).total_bounds, lang=lang, basemap=basemap,
                    leaflet_base=leaflet_base, streets=streets)
    homes_layer(result, first, settings, lang=lang).add_to(fmap)
    for layer in extra_layers or []:
        layer.add_to(fmap)
    legend(settings.category(first).name(lang), lang=lang,
           estimated=bool(is_estimated(result.homes).any()), category=first).add_to(fmap)
    open_control(fmap)
    return fmap


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

    Returns
    -------
    folium.Map
        One map: :func:`coverage_base_map` with the layers of :func:`category_layers`
        (the circle under the homes).
    """
    fmap = base_map(result.homes.to_crs(WGS84).total_bounds, lang=lang, basemap=basemap,
                    leaflet_base=leaflet_base, streets=streets)
    circles, facilities = category_layers(result, category, settings, circle=circle,
                                          lang=lang, served=served)
    circles.add_to(fmap)
    homes_layer(result, category, settings, lang=lang).add_to(fmap)
    facilities.add_to(fmap)
    for layer in extra_layers or []:
        layer.add_to(fmap)
    legend(settings.category(category).name(lang), lang=lang,
           estimated=bool(is_estimated(result.homes).any()), category=category).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap
