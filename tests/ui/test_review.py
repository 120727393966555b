"""Review mode: one output at a time, moved and voted on with buttons or keys."""

from __future__ import annotations

import pytest
from support.stores import as_user
from support.team_history import TeamHistory
from support.widgets import text_of

import promptlab as pl
from promptlab.runner.progress import NullDisplay
from promptlab.testing import fake_model
from promptlab.ui import ReviewPanel, playground, review

pytestmark = pytest.mark.both_stores


@pytest.fixture
def run(lab: pl.Lab) -> pl.Run:
    prompts = [
        pl.Prompt(
            [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say {{ text }}"}], name="say"
        ),
        pl.Prompt("Shout {{ text }}", name="shout"),
    ]
    rows = [{"text": "one"}, {"text": "two"}, {"text": "three"}]
    return lab.sweep(prompts, fake_model("echo"), rows, display=NullDisplay())


def shown(panel: ReviewPanel) -> tuple[int, str]:
    current = panel.current
    assert current is not None
    return int(current["row_index"]), str(current["prompt_name"])


def test_review_goes_input_by_input_showing_input_prompt_and_output(run: pl.Run) -> None:
    panel = review(run, lab=run.lab)
    assert panel.position.value == 1 and panel.count.value == "of 6"
    assert shown(panel) == (0, "say")
    assert "text: one" in panel.input.value
    assert "[system]" in panel.prompt.value and "Be terse." in panel.prompt.value and "Say one" in panel.prompt.value
    assert "Say one" in panel.output.value
    assert "say · echo" in panel.header.value
    panel.next.click()
    assert shown(panel) == (0, "shout")
    panel.next.click()
    assert shown(panel) == (1, "say")
    panel.previous.click()
    assert shown(panel) == (0, "shout")


def test_keys_move_and_vote(run: pl.Run, lab: pl.Lab) -> None:
    panel = review(run)
    panel.key_box.value = "j"
    assert panel.position.value == 2 and panel.key_box.value == ""
    panel.key_box.value = "n"
    assert panel.position.value == 3
    panel.key_box.value = "k"
    panel.key_box.value = "p"
    assert panel.position.value == 1
    panel.key_box.value = "p"  # already at the first
    assert panel.position.value == 1
    first = panel.current
    assert first is not None
    panel.key_box.value = "u"
    assert panel.position.value == 2  # moved on after the vote
    second = panel.current
    assert second is not None
    panel.key_box.value = "D"
    assert lab.feedback_for(first["trial_id"])["vote"].tolist() == [1]
    assert lab.feedback_for(second["trial_id"])["vote"].tolist() == [-1]
    assert set(lab.feedback_for()["user"]) == {"tester"}
    panel.key_box.value = "x"  # not a key: nothing happens
    assert panel.position.value == 3 and len(lab.feedback_for()) == 2


def test_only_the_last_key_of_a_change_counts(run: pl.Run) -> None:
    panel = review(run)
    panel.key_box.value = "jj"  # the front end sent "j" already; this change adds one more
    assert panel.position.value == 2


def test_buttons_vote_and_can_stay_put(run: pl.Run, lab: pl.Lab) -> None:
    panel = review(run)
    panel.advance.value = False
    panel.up.click()
    panel.up.click()
    current = panel.current
    assert current is not None and panel.position.value == 1
    assert lab.feedback_for(current["trial_id"])["vote"].tolist() == [1, 1]  # the log keeps both presses
    bar = panel.feedback_box.children[0]
    assert "▲ 1 ▼ 0" in bar.state.value  # one reviewer, one current vote


def test_a_reviewers_new_vote_replaces_theirs_everywhere(
    run: pl.Run, lab: pl.Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = review(run)
    panel.advance.value = False
    for key in "uud":  # 👍, 👍 again, then a change of mind
        panel.key_box.value = key
    trial_id = panel.current["trial_id"] if panel.current else ""
    assert "▲ 0 ▼ 1" in panel.feedback_box.children[0].state.value
    row = lab.trials(run=run.run_id).set_index("trial_id").loc[trial_id]
    assert (row["votes_up"], row["votes_down"]) == (0, 1)
    lab.feedback(trial_id, vote="up", user=" TESTER ")  # the same person, however they type their name
    if lab.location.startswith("postgresql://"):  # a vote is the login's own: kim votes as kim
        with pytest.raises(pl.PolicyError, match="kim gives theirs"):
            lab.feedback(trial_id, vote="up", user="kim")
        kim = as_user(lab, "kim", monkeypatch)
        kim.feedback(trial_id, vote="up")
    else:
        lab.feedback(trial_id, vote="up", user="kim")
        kim = lab
    row = lab.trials(run=run.run_id).set_index("trial_id").loc[trial_id]
    assert (row["votes_up"], row["votes_down"]) == (2, 0)
    kim.feedback(trial_id, vote=0, user="kim")  # kim withdraws
    assert lab.trials(run=run.run_id).set_index("trial_id").loc[trial_id]["votes_up"] == 1
    assert len(lab.feedback_for(trial_id)) == 6  # every change stays in the log
    with pytest.raises(pl.ConfigError, match="withdraws"):
        lab.feedback(trial_id, vote=2)


def test_a_correction_in_review_mode_is_stored(run: pl.Run, lab: pl.Lab) -> None:
    panel = review(run)
    bar = panel.feedback_box.children[0]
    bar.show_editor()
    bar.correction.value = "One."
    bar.comment.value = "shorter please"
    assert bar.save_editor()
    current = panel.current
    assert current is not None
    stored = lab.feedback_for(current["trial_id"])
    assert stored["correction"].dropna().tolist() == ["One."]
    assert stored["comment"].dropna().tolist() == ["shorter please"]


def test_the_position_box_jumps_and_the_ends_disable_buttons(run: pl.Run) -> None:
    panel = review(run)
    assert panel.previous.disabled
    panel.position.value = 6
    assert shown(panel) == (2, "shout") and panel.next.disabled
    panel.key_box.value = "j"
    assert panel.position.value == 6


def test_errors_are_shown_in_red(lab: pl.Lab) -> None:
    run = lab.sweep(
        pl.Prompt("{{ text }}"), fake_model("echo", fail_if="bad"), [{"text": "bad"}], display=NullDisplay()
    )
    panel = review(run)
    assert "#c0392b" in panel.output.value and "fake failure" in panel.output.value


def test_a_dataframe_without_a_lab_can_be_read_but_not_voted_on(run: pl.Run) -> None:
    panel = review(run.df)
    assert panel.up.disabled and panel.down.disabled
    assert panel.feedback_box.children == ()
    panel.key_box.value = "u"  # ignored
    assert panel.position.value == 1


def test_nothing_to_review(lab: pl.Lab) -> None:
    panel = ReviewPanel(lab=lab)
    assert "nothing to review" in panel.header.value
    assert panel.current is None
    panel.key_box.value = "j"
    panel.key_box.value = "u"
    assert lab.feedback_for().empty
    assert repr(panel) == "ReviewPanel(0 outputs)"


def test_a_run_id_needs_its_lab(run: pl.Run) -> None:
    with pytest.raises(pl.ConfigError, match="needs its lab"):
        review(run.run_id)
    assert review(run.run_id, lab=run.lab).count.value == "of 6"


# -- on the history a team has (tests/support/team_history.py) -----------------------------------------------


def go_to(panel: ReviewPanel, trial_id: str) -> None:
    ids = list(panel.trials["trial_id"])
    panel.position.value = ids.index(trial_id) + 1


def test_review_of_a_teams_run_shows_current_votes(team: TeamHistory) -> None:
    lab = team.lab()
    panel = review(team.runs["grid"], lab=lab)
    assert panel.count.value == "of 96"
    for role, counts in {"disputed": "▲ 1 ▼ 1", "agreed": "▲ 2 ▼ 0", "withdrawn": "▲ 0 ▼ 0"}.items():
        go_to(panel, team.trials[role])
        bar = panel.feedback_box.children[0]
        assert counts in bar.state.value, role
        bar.refresh()
        assert counts in bar.state.value, role
    go_to(panel, team.trials["corrected"])
    assert "corrected · 2 comments" in panel.feedback_box.children[0].state.value
    go_to(panel, team.trials["failed"])
    assert "PermanentError" in panel.output.value and "content filter" in panel.output.value


def test_a_vote_stays_shown_after_stepping_away_and_back(team: TeamHistory) -> None:
    panel = review(team.runs["grid"], lab=team.lab())
    go_to(panel, team.trials["withdrawn"])
    panel.key_box.value = "u"  # 👍, then on to the next output
    panel.key_box.value = "k"  # and back
    assert panel.current is not None and panel.current["trial_id"] == team.trials["withdrawn"]
    assert "▲ 1 ▼ 0" in panel.feedback_box.children[0].state.value


def test_feedback_given_in_results_shows_in_review_and_back(team: TeamHistory) -> None:
    app = playground(team.lab(), namespace={})
    app.open_run(team.runs["grid"])
    cell = app.results.open_trial(team.trials["disputed"])
    assert cell is not None and cell.feedback is not None
    cell.feedback.up.click()  # tester's 👍 next to ana's 👎 and ben's 👍
    app.results.review_button.click()
    go_to(app.review, team.trials["disputed"])
    bar = app.review.feedback_box.children[0]
    assert "▲ 2 ▼ 1" in bar.state.value
    bar.vote(-1)  # changed their mind in Review
    assert "▲ 1 ▼ 2" in bar.state.value
    app.selected_index = 1
    assert "▲ 1 ▼ 2" in text_of(app.results.matrix.value)  # the grid's cell, drawn again
    shown = app.results.open_trial(team.trials["disputed"])
    assert shown is not None and shown.feedback is not None and "▲ 1 ▼ 2" in shown.feedback.state.value


def test_the_output_and_votes_come_before_the_prompt_which_starts_collapsed(team: TeamHistory) -> None:
    panel = review(team.runs["grid"], lab=team.lab())
    order = list(panel.children)
    votes = next(i for i, child in enumerate(order) if panel.up in getattr(child, "children", ()))
    assert votes < order.index(panel.output) < order.index(panel.feedback_box) < order.index(panel.details)
    assert panel.details.selected_index is None and panel.prompt in panel.details.children
    assert "Summarize briefly" in panel.prompt.value  # there when opened
    assert panel.input.layout.max_height and panel.input.layout.overflow == "auto"  # a long input scrolls
    assert panel.position.style.description_width == "initial"
    panel.key_box.value = "j"  # the keys work as before
    assert panel.position.value == 2
