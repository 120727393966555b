"""Model configs: provider inference, content-derived ids, secrets refused, pricing."""

from __future__ import annotations

import json

import numpy as np
import pytest

import promptlab as pl
from promptlab.core.pricing import FREE, PRICES
from promptlab.errors import ConfigError, SecretInConfigError


@pytest.mark.parametrize(
    ("name", "provider"),
    [
        ("smollm2", "llamacpp"),
        ("local:models/tiny.gguf", "llamacpp"),
        ("local:/abs/path/x.gguf", "llamacpp"),
        ("gpt-4o-mini", "openai"),
        ("llama3.2", "openai"),
        ("smollm2-instruct", "openai"),  # only the exact embedded names run locally
    ],
)
def test_provider_follows_from_the_name(name: str, provider: str) -> None:
    assert pl.Model(name).provider == provider


def test_explicit_provider_wins() -> None:
    assert pl.Model("gpt-4o-mini", provider="fake").provider == "fake"


def test_id_is_stable_and_sensitive_to_every_parameter() -> None:
    base = pl.Model("gpt-4o-mini", temperature=0)
    assert base.id == pl.Model("gpt-4o-mini", temperature=0).id
    assert len(base.id) == 12
    assert base.id != pl.Model("gpt-4o-mini", temperature=0.7).id
    assert base.id != pl.Model("gpt-4o-mini", temperature=0, top_p=0.9).id
    assert base.id != pl.Model("gpt-4o", temperature=0).id
    assert base.id != pl.Model("gpt-4o-mini", temperature=0, base_url="http://localhost:8000/v1").id
    assert base.id != pl.Model("gpt-4o-mini", provider="fake", temperature=0).id


def test_parameter_order_and_trailing_slash_do_not_change_the_id() -> None:
    a = pl.Model("m", base_url="http://host:1/v1/", temperature=0, seed=3)
    b = pl.Model("m", base_url="http://host:1/v1", seed=3, temperature=0)
    assert a.id == b.id
    assert a.base_url == "http://host:1/v1"
    assert list(a.params) == ["seed", "temperature"]


def test_price_and_key_variable_are_not_part_of_the_id() -> None:
    cheap = pl.Model("m", base_url="http://x/v1", price=(1.0, 2.0))
    dear = pl.Model("m", base_url="http://x/v1", price=(3.0, 4.0), api_key_env="OTHER_KEY")
    assert cheap.id == dear.id
    assert cheap.price == pl.Price(1.0, 2.0)
    assert dear.price == pl.Price(3.0, 4.0)
    assert cheap != dear  # same call, different bookkeeping
    assert "OTHER_KEY" not in str(dear.identity())


def test_with_params_merges_and_keeps_everything_else() -> None:
    model = pl.Model("m", base_url="http://x/v1", price=(1.0, 2.0), api_key_env="MY_KEY", temperature=0, seed=1)
    hotter = model.with_params(temperature=0.9, top_p=0.5)
    assert hotter.params == {"seed": 1, "temperature": 0.9, "top_p": 0.5}
    assert (hotter.name, hotter.provider, hotter.base_url) == (model.name, model.provider, model.base_url)
    assert (hotter.price, hotter.api_key_env) == (model.price, model.api_key_env)
    assert model.params == {"seed": 1, "temperature": 0}  # the original is untouched
    assert hotter.id != model.id
    assert model.with_params(temperature=0).id == model.id


@pytest.mark.parametrize("param", ["api_key", "apiKey", "API-KEY", "auth_token", "password", "secret", "Authorization"])
def test_secret_parameters_are_refused_without_echoing_them(param: str) -> None:
    with pytest.raises(SecretInConfigError) as info:
        pl.Model("gpt-4o-mini", **{param: "sk-live-do-not-store-123456"})
    assert "sk-live-do-not-store-123456" not in str(info.value)
    assert "environment variable" in str(info.value)
    assert isinstance(info.value, ConfigError)


@pytest.mark.parametrize(
    ("param", "value"),
    [("max_tokens", 5), ("top_k", 5), ("max_completion_tokens", 5), ("top_p", 0.5), ("seed", 5), ("stop", "5")],
)
def test_ordinary_parameters_are_fine(param: str, value: object) -> None:
    assert param in pl.Model("gpt-4o-mini", **{param: value}).params


def test_credentials_in_base_url_are_refused() -> None:
    with pytest.raises(SecretInConfigError) as info:
        pl.Model("m", base_url="https://ana:hunter2-secret@api.example.com/v1")
    assert "hunter2-secret" not in str(info.value)
    for url in ("https://api.example.com/v1?api_key=abc123", "https://api.example.com/v1?key=abc123"):
        with pytest.raises(SecretInConfigError, match="query string"):
            pl.Model("m", base_url=url)
    assert pl.Model("m", base_url="https://api.example.com/v1?region=eu").base_url.endswith("region=eu")


def test_openai_base_url_is_picked_up_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://gateway.local:9000/v1/")
    assert pl.Model("gpt-4o-mini").base_url == "http://gateway.local:9000/v1"
    assert pl.Model("gpt-4o-mini", base_url="http://other/v1").base_url == "http://other/v1"
    assert pl.Model("smollm2").base_url is None  # not an OpenAI-compatible model
    assert pl.Model("echo", provider="fake").base_url is None


def test_no_base_url_means_openai_itself() -> None:
    assert pl.Model("gpt-4o-mini").base_url is None


def test_known_models_are_priced() -> None:
    assert pl.Model("gpt-4o-mini").price == PRICES["gpt-4o-mini"] == pl.Price(0.15, 0.60)
    assert pl.Model("gpt-4o").price == pl.Price(2.50, 10.00)


def test_dated_snapshot_is_priced_as_its_model() -> None:
    # gpt-4o-mini-2024-07-18 also starts with "gpt-4o-": the longest match must win.
    assert pl.Model("gpt-4o-mini-2024-07-18").price == PRICES["gpt-4o-mini"]
    assert pl.Model("gpt-4o-2024-08-06").price == PRICES["gpt-4o"]


def test_unknown_price_is_none_and_local_models_are_free() -> None:
    assert pl.Model("llama3.2", base_url="http://localhost:11434/v1").price is None
    assert pl.Model("gpt-4o.mini").price is None
    assert pl.Model("smollm2").price == FREE
    assert pl.Model("echo", provider="fake").price == FREE


@pytest.mark.parametrize("name", ["o3-pro", "o1-pro", "gpt-4o-realtime-preview", "gpt-4o-audio-preview"])
def test_a_different_model_sharing_a_prefix_is_not_priced_as_the_prefix(name: str) -> None:
    # Not in the table: the documented rule is "unknown price, cost NULL, never a guess".
    # Only dated snapshots (name-YYYY-MM-DD) are the same model as their base name.
    assert pl.Model(name).price is None


def test_explicit_price_overrides_and_is_validated() -> None:
    assert pl.Model("gpt-4o-mini", price=(9, 9)).price == pl.Price(9.0, 9.0)
    assert pl.Model("llama3.2", price=pl.Price(0.1, 0.2)).price == pl.Price(0.1, 0.2)
    with pytest.raises(ConfigError, match="price"):
        pl.Model("m", price=("cheap", 1))  # type: ignore[arg-type]


def test_price_cost() -> None:
    price = pl.Price(1.0, 2.0)
    assert price.cost(1_000_000, 500_000) == pytest.approx(2.0)
    assert price.cost(10, 20) == pytest.approx(50 / 1_000_000)
    assert price.cost(None, 3) is None


def test_more_than_one_choice_is_refused() -> None:
    with pytest.raises(ConfigError, match="repeats"):
        pl.Model("gpt-4o-mini", n=2)
    assert pl.Model("gpt-4o-mini", n=1).params == {"n": 1}


@pytest.mark.parametrize("name", ["", "   ", None])
def test_a_model_needs_a_name(name: object) -> None:
    with pytest.raises(ConfigError):
        pl.Model(name)  # type: ignore[arg-type]


def test_numpy_parameters_become_plain_json() -> None:
    model = pl.Model("m", temperature=np.float64(0.5), max_tokens=np.int64(8))
    assert json.loads(json.dumps(model.params)) == {"max_tokens": 8, "temperature": 0.5}
    assert type(model.params["max_tokens"]) is int
    assert model.id == pl.Model("m", temperature=0.5, max_tokens=8).id


def test_to_dict_holds_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-should-never-be-stored-0123456789")
    model = pl.Model("m", base_url="http://x/v1", api_key_env="MY_KEY", temperature=0)
    data = model.to_dict()
    assert data["api_key_env"] == "MY_KEY"
    assert "sk-should-never-be-stored" not in repr(data)
    assert data["id"] == model.id
