"""Each configured upstream's client, by the client its provider speaks (providers/catalogue.py)."""

from __future__ import annotations

import httpx

from gateway.settings import Settings
from gateway.upstreams.entry import Deployment
from gateway.upstreams.llm import LLM
from gateway.upstreams.providers.anthropic import Anthropic
from gateway.upstreams.providers.catalogue import PROVIDERS
from gateway.upstreams.providers.gemini import Gemini
from gateway.upstreams.providers.mock import MockLLM
from gateway.upstreams.providers.openai import OpenAI
from gateway.upstreams.providers.vertex import VertexClaude


def client(deployment: Deployment, settings: Settings, transport: httpx.AsyncBaseTransport | None) -> LLM:
    kind = PROVIDERS[deployment.provider].client
    if kind == "mock":
        listed = deployment.model if deployment.model != "*" else settings.openai_model
        return MockLLM(delay=settings.mock_delay_seconds, model=listed)
    if kind == "anthropic":
        return Anthropic(settings, transport, deployment)
    if kind == "gemini" or kind == "vertex_ai":
        return google(deployment, settings, transport)
    return OpenAI(settings, transport, deployment)  # OpenAI's API: openai, azure and the compatible ones


def google(deployment: Deployment, settings: Settings, transport: httpx.AsyncBaseTransport | None) -> LLM:
    """Gemini (AI Studio's or Vertex's), or Claude on Vertex (a `vertex_ai/claude-…` model)."""
    if deployment.provider == "vertex_ai" and deployment.model.startswith("claude"):
        return VertexClaude(settings, transport, deployment)
    return Gemini(settings, transport, deployment)
