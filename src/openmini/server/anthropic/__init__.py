"""The Anthropic Messages API edge (`POST /v1/messages`, `/v1/messages/count_tokens`).

Wire schemas (schemas.py) -> the same internal `Request` the OpenAI edge builds (convert.py,
content.py, tools.py) -> `Pipeline.run` -> Anthropic's message object (responses.py) or its
SSE event sequence (stream.py); errors in Anthropic's envelope (errors.py). docs/anthropic.md.
"""
