"""Polygons as files: a GeoJSON FeatureCollection, or KML for Google Earth and QGIS.

Each polygon is a feature with the properties `{id, createdAt, createdBy, notes}`:
`createdBy` is its owner's email and `notes` the notes as one text, each headed
by its time and author. KML is written by fastkml: one Placemark per polygon,
named after its owner, described by its notes, stamped with its creation time,
the properties also as ExtendedData.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import pygeoif
from fastkml import containers, data, features, kml, times

from reefguide.spatial.notes import NoteView
from reefguide.spatial.service import PolygonView

if TYPE_CHECKING:
    from pygeoif.types import GeoInterface

KML_MEDIA_TYPE = "application/vnd.google-earth.kml+xml"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
DOCUMENT_NAME = "ReefGuide polygons"


def _timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def notes_text(notes: Sequence[NoteView]) -> str:
    """The notes as one text: "# 2025-06-05 03:04 UTC — a@example.com" then the content, for each."""
    return "\n\n".join(
        f"# {view.note.created_at:%Y-%m-%d %H:%M} UTC \u2014 {view.user.email}\n{view.note.content.strip()}"
        for view in notes
    )


def properties(view: PolygonView) -> dict[str, Any]:
    return {
        "id": view.polygon.id,
        "createdAt": _timestamp(view.polygon.created_at),
        "createdBy": view.user.email,
        "notes": notes_text(view.notes),
    }


def to_geojson(polygons: Sequence[PolygonView]) -> dict[str, Any]:
    """A FeatureCollection whose geometries are the polygons exactly as stored."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": view.polygon.id,
                "properties": properties(view),
                "geometry": view.polygon.polygon,
            }
            for view in polygons
        ],
    }


def to_kml(polygons: Sequence[PolygonView]) -> str:
    """A KML 2.2 document with one Placemark per polygon."""
    placemarks = [_placemark(view) for view in polygons]
    document = containers.Document(name=DOCUMENT_NAME, features=placemarks)
    return XML_DECLARATION + kml.KML(features=[document]).to_string(prettyprint=True)


# Characters XML 1.0 cannot hold (controls, lone surrogates, U+FFFE/U+FFFF); a note may have them.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _placemark(view: PolygonView) -> features.Placemark:
    values = {name: _xml_text(str(value)) for name, value in properties(view).items()}
    return features.Placemark(
        id=f"polygon-{view.polygon.id}",
        name=values["createdBy"],
        description=values["notes"] or None,
        times=times.TimeStamp(timestamp=times.KmlDateTime(view.polygon.created_at)),
        extended_data=data.ExtendedData(
            elements=[data.Data(name=name, value=value) for name, value in values.items()]
        ),
        geometry=_shape(view.polygon.polygon),
    )


def _shape(geometry: dict[str, Any]) -> pygeoif.Polygon | pygeoif.MultiPolygon:
    # Only the members KML can carry: a stored bbox or foreign member is not checked.
    interface = {"type": geometry["type"], "coordinates": geometry["coordinates"]}
    shape = pygeoif.shape(cast("GeoInterface", interface))
    assert isinstance(shape, (pygeoif.Polygon, pygeoif.MultiPolygon))  # checked when stored
    return shape
