"""HTTP adapters: endpoints, the LibreTranslate-compatible API, schemas, errors, the web page."""
