"""The HTTP edge: `create_app(config, backend)` builds the OpenAI-compatible FastAPI app."""
