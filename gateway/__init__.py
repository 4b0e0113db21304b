"""An LLM streaming gateway: text, OpenAI NDJSON and SSE streams, every exchange kept."""

__version__ = "0.1.0"
