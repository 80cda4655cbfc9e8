"""The HTTP translation service: FastAPI app over the ``translator`` library.

``app`` (the ``create_app`` factory and lifespan), ``settings`` (environment configuration),
``state`` (what every handler shares), ``cli`` (``translator-serve``); ``api/`` (endpoints, the
one translation path, the LibreTranslate-compatible API, schemas, errors, the web page),
``scheduling/`` (model registry, routing, detection, the batching queue and its clock), ``ops/``
(server and connections, lifecycle, limits, API keys, metrics). It imports only ``translator``.
"""
