"""``translator-serve``: run the translation service with uvicorn.

Flags override the ``TRANSLATOR_*`` environment variables; every other setting (limits, batching,
API key) is read from the environment only, and ``--help`` lists them all with their defaults.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from pydantic import ValidationError

from service.settings import ServiceSettings, env_name

FLAG_FIELDS = ("host", "port", "model_dirs", "models_root", "device", "dtype", "quantize", "log_level")


def _environment_help() -> str:
    """One line per setting: its environment variable, default and meaning."""
    lines = ["settings (environment variables; flags above override them):"]
    for name, info in ServiceSettings.model_fields.items():
        default = info.get_default(call_default_factory=True)
        shown = "none" if default in (None, []) else default
        lines.append(f"  {env_name(name):<34} default {shown}. {info.description or ''}".rstrip())
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of ``translator-serve``."""
    parser = argparse.ArgumentParser(
        prog="translator-serve",
        description="Serve translation models over HTTP (POST /translate; API docs at /docs).",
        epilog=_environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8000)")
    parser.add_argument("--model-dir", dest="model_dirs", action="append", metavar="DIR",
                        help="a checkpoint directory to serve; repeat for several (default: all under models/)")
    parser.add_argument("--models-root", metavar="DIR",
                        help="serve every checkpoint directory under DIR (default models)")
    parser.add_argument("--device", help='"auto" (CUDA when available, else CPU; default), "cpu", "cuda", ...')
    parser.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], help="model dtype (default float32)")
    parser.add_argument("--quantize", action="store_true", default=None, help="int8 dynamic quantization (CPU)")
    parser.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"],
                        help="log level (default info)")
    return parser


def settings_from_args(args: argparse.Namespace) -> ServiceSettings:
    """Environment settings with the given flags laid over them."""
    overrides = {name: getattr(args, name) for name in FLAG_FIELDS if getattr(args, name) is not None}
    return ServiceSettings(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags, check that there are models to serve, and serve until SIGTERM/SIGINT (then drain and exit)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValidationError as error:
        parser.error(f"invalid settings:\n{error}")
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    # Imported here, not at the top, so that --help and flag errors do not wait for torch to load.
    from translator.store.checkpoint import CheckpointError

    from service.scheduling.registry import model_directories, verify_model_directory

    try:
        directories = model_directories(settings)
    except CheckpointError as error:
        parser.error(str(error))
    # Verified here, before uvicorn starts, so a broken model is one line on stderr, not a traceback.
    for directory in directories:
        try:
            verify_model_directory(directory)
        except CheckpointError as error:
            print(f"translator-serve: error: {error}", file=sys.stderr)
            return 2
    logging.getLogger("service").info("model directories: %s", ", ".join(str(d) for d in directories))

    import uvicorn

    from service.app import create_app
    from service.ops.connections import guarded_protocol
    from service.ops.server import SHUTDOWN_WRITE_S, TranslationServer

    app = create_app(settings)
    # h11 rather than httptools: it enforces a configurable limit on the request line and headers; the service's
    # subclass adds a deadline for them, a connection limit and JSON parse errors (service.ops.connections).
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                            http=guarded_protocol(settings), h11_max_incomplete_event_size=settings.max_header_bytes,
                            timeout_keep_alive=settings.keep_alive_timeout_s, timeout_graceful_shutdown=SHUTDOWN_WRITE_S)
    server = TranslationServer(config, app.state.service)
    server.run()  # after a clean shutdown the process exits in there, with status 0
    return 3  # the app failed to start; uvicorn has logged why


if __name__ == "__main__":
    sys.exit(main())
