"""Folium layers of communities, grids and street blocks, with household labels.

Grid workers' names and phones never reach these layers: tooltips show names, households
and communities only, so a shared or exported HTML map carries no personal data.
"""

from __future__ import annotations

from collections.abc import Sequence

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement

from gis.settings import WGS84
from gis.zoning.plan import GridPlan
from layers.base import (
    LEAFLET_BASE_URL,
    base_map,
    escape,
    for_display,
    legend_box,
    macro,
    script_value,
    swatch,
)
from layers.i18n import t

#: Twelve distinguishable fill colours for neighbouring grids (ColorBrewer Set3).
PALETTE = ("#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
           "#fccde5", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f")
OUT_OF_RANGE = "#d7301f"
#: Outline of the grids the selected block may move into.
TARGET_COLOUR = "#2166ac"


def _colours(plan: GridPlan) -> dict[int, str]:
    """Give neighbouring grids different colours (greedy graph colouring)."""
    adj = plan.blocks.adjacency.tocoo()
    g = plan.grid
    pairs = {(int(g[i]), int(g[j])) for i, j in zip(adj.row, adj.col, strict=True)
             if g[i] >= 0 and g[j] >= 0 and g[i] != g[j]}
    out: dict[int, str] = {}
    for lab in sorted(plan.grid_names):
        taken = {out[b] for a, b in pairs if a == lab and b in out}
        out[lab] = next((c for c in PALETTE if c not in taken), PALETTE[lab % len(PALETTE)])
    return out


def grids_layer(plan: GridPlan, *, lang: str = "zh", show: bool = True) -> folium.FeatureGroup:
    """Return grids coloured apart from their neighbours, outlined red when out of range."""
    group = folium.FeatureGroup(name=t("grids", lang), show=show)
    grids = plan.grids_gdf(with_workers=False)
    if len(grids) == 0:
        return group
    colours = _colours(plan)
    props = gpd.GeoDataFrame({
        "fill": [colours[int(lab)] for lab in grids["label"]],
        "edge": [OUT_OF_RANGE if f else "#333333" for f in grids["flag"]],
        "name": grids["name"].to_numpy(), "hh": grids["households"].astype(int).to_numpy(),
        "community": grids["community"].to_numpy(),
        "compact": grids["compactness"].round(2).to_numpy(),
    }, geometry=grids.geometry.to_numpy(), crs=grids.crs)
    folium.GeoJson(
        for_display(props).to_json(drop_id=True),
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "fillOpacity": 0.55,
                                  "color": f["properties"]["edge"], "weight": 2},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "hh", "community", "compact"],
            aliases=[t("grid", lang), t("households", lang), t("community", lang),
                     t("compactness", lang)]),
    ).add_to(group)
    unit = escape(t("households_unit", lang))
    # The grid's name over its households: the names the tables and edits use. Larger
    # grids first, so where labels would overlap the larger grid keeps its own.
    order = np.argsort(-grids.geometry.area.to_numpy(), kind="stable")
    lon_lat = np.round(shapely.get_coordinates(
        grids.geometry.representative_point().to_crs(WGS84).to_numpy()), 6)
    names, hh = grids["name"].to_numpy(), grids["households"].to_numpy()
    labels = [[float(lon_lat[i, 1]), float(lon_lat[i, 0]),
               f"{escape(names[i])}<br><b>{int(hh[i])}</b> {unit}"] for i in order]
    zone_labels(labels).add_to(group)
    return group


def zone_labels(labels: list[list[object]]) -> MacroElement:
    """Return zone labels as one script that draws only those that do not overlap.

    ``labels`` are ``[lat, lon, escaped HTML]``, the first the most important. After each
    move the labels inside the view are drawn in that order, each only where it overlaps
    no label drawn before it: zoomed out over a city's 900 grids a few are read, not a
    smear of all of them; zoomed in every grid has its own. One script instead of a
    folium Marker per label also spares the page a template per grid.

    Parameters
    ----------
    labels
        ``[lat, lon, html]`` per zone, the most important first.

    Returns
    -------
    MacroElement
        To add to the layer the labels belong to (they follow it in the layer control).
    """
    element = macro("""
    {% macro script(this, kwargs) %}
    (function(){
      var g = {{ this._parent.get_name() }}, m = {{ this._parent._parent.get_name() }};
      var d = {{ this.sc_data }}, shown = L.layerGroup().addTo(g);
      function place(){
        shown.clearLayers();
        var b = m.getBounds().pad(0.1), taken = [];
        for (var i = 0; i < d.length; i++) {
          if (!b.contains([d[i][0], d[i][1]])) { continue; }
          var p = m.latLngToContainerPoint([d[i][0], d[i][1]]), free = true;
          for (var j = 0; j < taken.length && free; j++) {
            free = Math.abs(taken[j].x - p.x) >= """ + str(LABEL_BOX_PX[0]) + """
                   || Math.abs(taken[j].y - p.y) >= """ + str(LABEL_BOX_PX[1]) + """;
          }
          if (!free) { continue; }
          taken.push(p);
          L.marker([d[i][0], d[i][1]], {interactive: false, keyboard: false,
            icon: L.divIcon({className: "sc-grid-label", iconSize: [120, 30],
              iconAnchor: [60, 15], html: '<div style="font:11px sans-serif;'
                + 'text-align:center;color:#111;line-height:14px;'
                + 'text-shadow:0 0 3px #fff,0 0 3px #fff">' + d[i][2] + '</div>'})})
            .addTo(shown);
        }
      }
      m.on("moveend", place); m.whenReady(place);
    })();
    {% endmacro %}
    """)
    # Given as a value, not as template text: names from the data are never read as Jinja.
    element.sc_data = script_value(labels)  # type: ignore[attr-defined]
    return element


#: Width and height (pixels) a zone label keeps clear of the others.
LABEL_BOX_PX = (110, 30)


def block_labels(plan: GridPlan, lang: str = "zh") -> dict[str, str]:
    """Return how each block is named to a person: by the street along it, with its id."""
    b = plan.blocks.gdf
    streets = b["street"].to_numpy() if "street" in b.columns else [""] * len(b)
    return {str(i): t("block_label", lang, street=s, id=i) if s else str(i)
            for i, s in zip(plan.blocks.ids, streets, strict=True)}


def selected_block_layer(plan: GridPlan, block_id: str | None, *,
                         targets: Sequence[int] = (),
                         lang: str = "zh") -> folium.FeatureGroup:
    """Return the block chosen for editing, outlined thick so the user sees which.

    ``targets`` are the grids it may move into (the neighbours of its community), drawn
    with a dashed blue outline while the map's click moves blocks.
    """
    group = folium.FeatureGroup(name=t("selected_block", lang), show=True)
    ids = list(plan.blocks.ids)
    if block_id is None or block_id not in ids:
        return group
    if len(targets):
        grids = plan.grids_gdf()
        near = grids[grids["label"].isin([int(g) for g in targets])][["geometry"]]
        folium.GeoJson(for_display(near).to_json(drop_id=True), interactive=False,
                       style_function=lambda _f: {"fill": False, "color": TARGET_COLOUR,
                                                  "weight": 3, "dashArray": "8 6"},
                       ).add_to(group)
    b = plan.blocks.gdf.iloc[[ids.index(block_id)]][["geometry"]]
    folium.GeoJson(for_display(b).to_json(drop_id=True), interactive=False,
                   style_function=lambda _f: {"fillColor": "#ffff33", "fillOpacity": 0.35,
                                              "color": "#000000", "weight": 4}).add_to(group)
    return group


def blocks_layer(plan: GridPlan, *, lang: str = "zh") -> folium.FeatureGroup:
    """Return street blocks as thin outlines; clicking one selects it for editing."""
    group = folium.FeatureGroup(name=t("blocks", lang), show=True)
    b = plan.blocks.gdf
    names = [plan.grid_names.get(int(g), "") for g in plan.grid]
    street = b["street"].to_numpy() if "street" in b.columns else [""] * len(b)
    props = gpd.GeoDataFrame({"block_id": b["block_id"].to_numpy(),
                              "hh": b["households"].astype(int).to_numpy(), "grid": names,
                              "street": street},
                             geometry=b.geometry.to_numpy(), crs=b.crs)
    folium.GeoJson(
        for_display(props).to_json(drop_id=True),
        style_function=lambda _f: {"fillOpacity": 0.0, "color": "#555555", "weight": 0.6},
        highlight_function=lambda _f: {"weight": 3, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=["block_id", "street", "hh", "grid"],
                                      aliases=[t("block", lang), t("block_street", lang),
                                               t("households", lang), t("grid", lang)]),
    ).add_to(group)
    return group


def communities_layer(plan: GridPlan, *, lang: str = "zh") -> folium.FeatureGroup:
    """Return community boundaries as thick lines with their names."""
    group = folium.FeatureGroup(name=t("communities", lang), show=True)
    comms = plan.communities_gdf()
    if len(comms) == 0:
        return group
    props = gpd.GeoDataFrame({"name": comms["name"].to_numpy(),
                              "hh": comms["households"].astype(int).to_numpy()},
                             geometry=comms.geometry.boundary.to_numpy(), crs=comms.crs)
    folium.GeoJson(for_display(props).to_json(drop_id=True), interactive=False,
                   style_function=lambda _f: {"color": "#08306b", "weight": 4}).add_to(group)
    return group


def grids_legend(plan: GridPlan, *, lang: str = "zh") -> MacroElement:
    """Return a legend: grid colours, the out-of-range outline, labels in households."""
    r = plan.rules
    text = t("legend_grids_text", lang, lo=r.min_households, hi=r.max_households)
    return legend_box(t("legend_grids", lang), [
        f"<div>{escape(text)}</div>",
        swatch(f"border:2px solid {OUT_OF_RANGE}", t("out_of_range", lang)),
        swatch("height:4px;background:#08306b;border:none", t("communities", lang)),
        swatch("background:#ffff33;border:3px solid #000000", t("selected_block", lang)),
        swatch(f"border:3px dashed {TARGET_COLOUR}", t("move_targets", lang))])


def grids_map(plan: GridPlan, *, lang: str = "zh", basemap: str | tuple[str, str, str] = "osm",
              leaflet_base: str = LEAFLET_BASE_URL,
              streets: gpd.GeoDataFrame | None = None,
              selected: str | None = None, targets: Sequence[int] = ()) -> folium.Map:
    """Return the grids map: grids, street blocks, community lines, streets, a legend.

    ``selected`` is the block chosen for editing (highlighted), ``targets`` the grids it
    may move into (dashed outlines).
    """
    bounds = plan.blocks.gdf.to_crs(WGS84).total_bounds
    fmap = base_map(np.asarray(bounds), lang=lang, basemap=basemap,
                    leaflet_base=leaflet_base, streets=streets)
    grids_layer(plan, lang=lang).add_to(fmap)
    blocks_layer(plan, lang=lang).add_to(fmap)
    selected_block_layer(plan, selected, targets=targets, lang=lang).add_to(fmap)
    communities_layer(plan, lang=lang).add_to(fmap)
    grids_legend(plan, lang=lang).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap
