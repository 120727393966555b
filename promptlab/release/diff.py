"""Two versions of a prompt side by side: the text diff and what changed in the scores."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import pandas as pd

from promptlab.core.prompt import Prompt, template_text


@dataclass(frozen=True)
class PromptDiff:
    """What changed from version A to version B of a prompt."""

    a: Prompt
    """The earlier version."""

    b: Prompt
    """The later version."""

    scores: pd.DataFrame
    """Per evaluator, over the inputs both versions were run on: mean of A, of B, and B − A."""

    @property
    def unified(self) -> str:
        """The text diff, unified format."""
        lines = difflib.unified_diff(
            template_text(self.a.template).splitlines(),
            template_text(self.b.template).splitlines(),
            fromfile=f"{self.a.name}@{self.a.version}",
            tofile=f"{self.b.name}@{self.b.version}",
            lineterm="",
        )
        return "\n".join(lines)

    def html(self) -> str:
        """The two texts side by side as an HTML table, changes highlighted."""
        return difflib.HtmlDiff(wrapcolumn=80).make_table(
            template_text(self.a.template).splitlines(),
            template_text(self.b.template).splitlines(),
            fromdesc=f"{self.a.version}",
            todesc=f"{self.b.version}",
        )

    def __str__(self) -> str:
        scores = "no evaluator scored both versions" if self.scores.empty else self.scores.to_string(index=False)
        return f"{self.unified or '(the templates are identical)'}\n\n{scores}"
