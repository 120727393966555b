"""Providers: what actually calls a model, behind one small protocol.

A provider turns a ``Request`` into a ``Completion`` or raises a
``ProviderError`` subclass (``RateLimitError``, ``TransientError``,
``PermanentError``); the runner owns retries, timeouts and recording, so a
provider is only the call (``protocol.py``). Register your own with
``register_provider``; the built-ins (``openai_compat.py``, ``embedded.py``,
``fake.py``) are imported on first use.
"""

from __future__ import annotations

from promptlab.core.model import Model
from promptlab.errors import UnknownProviderError
from promptlab.providers.protocol import Completion, Provider, ProviderFactory, Request

__all__ = [
    "BUILTIN_PROVIDERS",
    "Completion",
    "Provider",
    "ProviderFactory",
    "Request",
    "provider_for",
    "register_provider",
    "registered_providers",
]

_REGISTRY: dict[str, Provider | ProviderFactory] = {}


def register_provider(name: str, provider: Provider | ProviderFactory) -> None:
    """Make ``Model(..., provider=name)`` run on ``provider``.

    Pass a factory (called per sweep, per endpoint; its providers are closed
    when the sweep ends) or a provider instance (shared, never closed by
    promptlab).
    """
    _REGISTRY[name] = provider


def _builtin(name: str) -> Provider | ProviderFactory | None:
    # Imported on first use so `import promptlab` pulls in neither openai nor llama.cpp.
    if name == "openai":
        from promptlab.providers.openai_compat import OpenAICompatProvider

        return OpenAICompatProvider.for_model
    if name == "llamacpp":
        from promptlab.providers.embedded import EmbeddedProvider

        return EmbeddedProvider.for_model
    if name == "fake":
        from promptlab.providers.fake import FakeProvider

        return FakeProvider()
    return None


BUILTIN_PROVIDERS = ("fake", "llamacpp", "openai")


def registered_providers() -> list[str]:
    """Names ``Model(provider=...)`` accepts."""
    return sorted(set(_REGISTRY) | set(BUILTIN_PROVIDERS))


def _entry(model: Model) -> Provider | ProviderFactory:
    entry = _REGISTRY.get(model.provider)
    if entry is None:
        entry = _builtin(model.provider)
        if entry is None:
            raise UnknownProviderError(
                f"no provider named {model.provider!r} (known: {', '.join(registered_providers())}); "
                "check Model(provider=...) or register one with promptlab.register_provider"
            )
        _REGISTRY[model.provider] = entry
    return entry


def provider_for(model: Model) -> tuple[Provider, bool]:
    """The provider that runs ``model``, and whether the caller owns (must close) it."""
    entry = _entry(model)
    if isinstance(entry, Provider) and not isinstance(entry, type):
        return entry, False
    return entry(model), True
