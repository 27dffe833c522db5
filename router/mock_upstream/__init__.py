"""A stand-in for every provider: OpenAI chat, OpenAI Responses and Anthropic Messages over real HTTP,
with per-model latency and fault injection. `autotier mock-upstream` runs it; tests import it."""

from router.mock_upstream.app import create_app
from router.mock_upstream.config import MockConfig, MockConfigError, ModelBehaviour
from router.mock_upstream.server import MockServer, main

__all__ = ["MockConfig", "MockConfigError", "MockServer", "ModelBehaviour", "create_app", "main"]
