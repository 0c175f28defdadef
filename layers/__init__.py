"""Turn gis results into folium layers: styles, legends, tooltips, labels."""
