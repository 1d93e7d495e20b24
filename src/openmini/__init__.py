"""openmini: a self-hosted mini model service with an OpenAI-compatible API."""

__version__ = "0.1.0"
