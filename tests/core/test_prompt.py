"""Prompt templates: text and chat, content-derived versions, strict rendering."""

from __future__ import annotations

import pytest

import promptlab as pl
from promptlab.errors import ConfigError, TemplateError


def test_text_prompt_is_one_user_message() -> None:
    prompt = pl.Prompt("Summarize: {{ text }}", name="summarize")
    assert not prompt.is_chat
    assert prompt.messages == (("user", "Summarize: {{ text }}"),)
    assert prompt.template == "Summarize: {{ text }}"
    assert prompt.render({"text": "cats"}) == [{"role": "user", "content": "Summarize: cats"}]


def test_chat_prompt_keeps_roles_in_order() -> None:
    template = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Summarize: {{ text }}"},
        {"role": "assistant", "content": "OK."},
        {"role": "user", "content": "Again: {{ text }}"},
    ]
    prompt = pl.Prompt(template, name="terse")
    assert prompt.is_chat
    assert prompt.template == template
    assert prompt.render({"text": "dogs"}) == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Summarize: dogs"},
        {"role": "assistant", "content": "OK."},
        {"role": "user", "content": "Again: dogs"},
    ]


def test_version_is_derived_from_content_only() -> None:
    a = pl.Prompt("Summarize: {{ text }}", name="a")
    b = pl.Prompt("Summarize: {{ text }}", name="b")
    c = pl.Prompt("Summarise: {{ text }}", name="a")
    assert a.version == b.version  # the name is not part of the version
    assert a.version != c.version
    assert len(a.version) == 12
    assert int(a.version, 16) >= 0  # hex
    assert pl.Prompt("Summarize: {{ text }}").version == a.version


def test_version_depends_on_roles() -> None:
    as_user = pl.Prompt([{"role": "user", "content": "Hi {{ x }}"}])
    as_system = pl.Prompt([{"role": "system", "content": "Hi {{ x }}"}])
    assert as_user.version != as_system.version
    # A text prompt is exactly a single user message, so it is the same version.
    assert as_user.version == pl.Prompt("Hi {{ x }}").version


def test_unnamed_prompt_is_named_after_its_version() -> None:
    prompt = pl.Prompt("Hello {{ name }}")
    assert prompt.name == f"prompt-{prompt.version[:6]}"


def test_equal_templates_with_equal_names_are_equal() -> None:
    assert pl.Prompt("x {{ y }}", name="n") == pl.Prompt("x {{ y }}", name="n")
    assert pl.Prompt("x {{ y }}", name="n") != pl.Prompt("x {{ y }}", name="m")


def test_missing_variable_is_a_template_error_naming_it() -> None:
    prompt = pl.Prompt("Translate {{ text }} into {{ language }}", name="translate")
    with pytest.raises(TemplateError) as info:
        prompt.render({"text": "hello"})
    message = str(info.value)
    assert "language" in message
    assert "translate" in message
    assert isinstance(info.value, ConfigError)


def test_undefined_attribute_is_a_template_error() -> None:
    prompt = pl.Prompt("Hello {{ person.name }}", name="greet")
    with pytest.raises(TemplateError, match="name"):
        prompt.render({"person": {"age": 3}})


def test_render_is_not_html_escaped_and_keeps_trailing_newline() -> None:
    prompt = pl.Prompt("Say <b>{{ x }}</b> & more\n")
    assert prompt.render({"x": "<i>hi</i>"})[0]["content"] == "Say <b><i>hi</i></b> & more\n"


def test_extra_variables_are_ignored() -> None:
    prompt = pl.Prompt("Hello {{ name }}")
    assert prompt.render({"name": "Ana", "expected": "Hello Ana"}) == [{"role": "user", "content": "Hello Ana"}]


@pytest.mark.parametrize(
    "template",
    [
        "Hello {{ name ",
        "{% if x %}unclosed",
        [{"role": "system", "content": "fine"}, {"role": "user", "content": "{{ broken }"}],
    ],
)
def test_syntax_error_is_a_template_error_at_construction(template: object) -> None:
    with pytest.raises(TemplateError, match="syntax"):
        pl.Prompt(template)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ([], "no messages"),
        ([{"role": "robot", "content": "beep"}], "robot"),
        ([{"role": "user"}], "content"),
        (["just a string"], "dict"),
        ([{"role": "system", "content": " "}, {"role": "user", "content": ""}], "empty"),
    ],
)
def test_bad_prompts_are_config_errors(template: object, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        pl.Prompt(template)  # type: ignore[arg-type]


def test_variables_lists_the_placeholders() -> None:
    prompt = pl.Prompt(
        [
            {"role": "system", "content": "You are {{ persona }}."},
            {"role": "user", "content": "{% for item in items %}{{ item }} {% endfor %}{{ question }}"},
        ]
    )
    assert prompt.variables == frozenset({"persona", "items", "question"})
    assert pl.Prompt("no placeholders").variables == frozenset()
    assert prompt.to_dict()["variables"] == ["items", "persona", "question"]


def test_to_dict_is_plain_data() -> None:
    prompt = pl.Prompt("Hi {{ x }}", name="hi")
    assert prompt.to_dict() == {"name": "hi", "version": prompt.version, "template": "Hi {{ x }}", "variables": ["x"]}


def test_a_message_says_what_a_version_changes_without_being_part_of_it() -> None:
    plain = pl.Prompt("Summarize: {{ text }}", name="s")
    noted = pl.Prompt("Summarize: {{ text }}", name="s", message="  first   try\n")
    assert noted.version == plain.version and noted == plain
    assert noted.message == "first try" and noted.to_dict()["message"] == "first try"
    assert "message" not in plain.to_dict() and pl.Prompt("x", message="   ").message is None
