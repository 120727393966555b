"""Offline stand-ins for tests, docs and notebooks.

``FakeProvider`` answers deterministically with no network; ``StubServer`` is
a real local OpenAI-compatible HTTP server with programmable faults, for
tests and benchmarks that go through the real ``openai`` client.
"""

from promptlab.providers.fake import FakeProvider, fake_model
from promptlab.testing.server import StubServer

__all__ = ["FakeProvider", "StubServer", "fake_model"]
