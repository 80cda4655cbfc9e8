"""The HTTP translation service: FastAPI app over the ``translator`` library.

Modules: ``settings`` (environment configuration), ``schemas`` (request/response bodies), ``app``
(the ``create_app`` factory and lifespan), ``routes`` (endpoints), ``batching`` (cross-request
batching queue), ``registry`` (loaded models), ``limits``, ``auth``, ``errors``, ``metrics``, ``cli``.
"""
