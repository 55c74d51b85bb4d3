"""Spatial data: GeoJSON polygons, their notes, and the map layers a client shows."""
