"""Each configured upstream's client, by the client its provider speaks (providers/catalogue.py)."""

from __future__ import annotations

import httpx

from gateway.settings import Settings
from gateway.upstreams.entry import Deployment
from gateway.upstreams.llm import LLM
from gateway.upstreams.providers.anthropic import Anthropic
from gateway.upstreams.providers.catalogue import PROVIDERS
from gateway.upstreams.providers.mock import MockLLM
from gateway.upstreams.providers.openai import OpenAI


def client(deployment: Deployment, settings: Settings, transport: httpx.AsyncBaseTransport | None) -> LLM:
    kind = PROVIDERS[deployment.provider].client
    if kind == "mock":
        listed = deployment.model if deployment.model != "*" else settings.openai_model
        return MockLLM(delay=settings.mock_delay_seconds, model=listed)
    if kind == "anthropic":
        return Anthropic(settings, transport, deployment)
    return OpenAI(settings, transport, deployment)  # OpenAI's API: openai, azure and the compatible ones
