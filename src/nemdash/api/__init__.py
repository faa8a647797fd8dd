"""The REST API: FastAPI routes under ``/api/v1`` over the typed query functions.

:func:`nemdash.api.app.create_app` builds the application (no import-time side effects); the
routes in :mod:`nemdash.api.routes` are thin calls of :mod:`nemdash.query` functions; the response
formats (JSON, CSV, Arrow), ETags and the rendered-response cache are in
:mod:`nemdash.api.formats` and :mod:`nemdash.api.responses`; the one error shape is in
:mod:`nemdash.api.errors`. See ``docs/api.md``.
"""
