"""One router per resource: prices, generation, interconnectors, stations, analysis, metadata,
status. Each route is a thin call of a :mod:`nemdash.query` function."""

from __future__ import annotations

from typing import Any, Final

from nemdash.api.formats import MEDIA_TYPES, Format

#: OpenAPI of a table answer: JSON (the route's model), CSV or Arrow, and a 304 on a match.
TABLE_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "JSON by default; CSV or an Arrow IPC stream with `?format=`.",
        "content": {
            MEDIA_TYPES[Format.csv].split(";")[0]: {"schema": {"type": "string"}},
            MEDIA_TYPES[Format.arrow]: {"schema": {"type": "string", "format": "binary"}},
        },
    },
    304: {"description": "Not modified: the `If-None-Match` ETag is still current."},
}
