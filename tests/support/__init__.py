"""What the tests share: the history seen from outside (``history``), scriptable
providers and displays (``providers``), the history a team has after a week
(``team_history``), the real-browser harness (``browser``) and helpers for
driving widgets (``widgets``). The fixtures over them are in ``tests/conftest.py``."""
