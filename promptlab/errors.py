"""One exception tree for promptlab.

Every error the library raises on purpose is a ``PromptlabError`` and its
message says what to do next. Only the UI and the CLI catch these to show
them; library code lets them travel.

::

    PromptlabError
    ├── ConfigError                 bad input from the user; nothing was run
    │   ├── TemplateError           template syntax, or a variable a row lacks
    │   ├── DataError               data that can't be read or has no rows
    │   ├── ExperimentFileError     a malformed experiment YAML file
    │   ├── UnknownProviderError    a provider name nobody registered
    │   ├── SecretInConfigError     an API key where only config belongs
    │   ├── ModelFileError          a local model file missing or not GGUF
    │   └── ExportError             an export that would be empty or malformed, or can't be written
    ├── ModelDownloadError          a model file couldn't be fetched
    ├── StoreError                  the history database can't be used
    │   ├── NotADatabaseError       the path is not a DuckDB database
    │   ├── NewerSchemaError        written by a newer promptlab
    │   ├── StoreLocationError      the folder can't be written
    │   ├── StoreBusyError          another program holds the file too long
    │   │   └── ServerUnreachableError  the team server can't be reached now
    │   ├── DiskFullError           no space left to record; what was recorded is safe
    │   └── DamagedStoreError       the file is damaged, or holds objects promptlab didn't make
    ├── EvaluatorError              an evaluator couldn't score a trial (recorded on the score)
    ├── PolicyError                 a label move the policy file forbids
    │   └── PrivacyError            data of a tier going where no approval lets it
    ├── NotFoundError               no trial, run or prompt by that id
    └── ProviderError               one model call failed (recorded on its trial)
        ├── RateLimitError          HTTP 429; carries ``retry_after`` seconds
        ├── TransientError          worth retrying: 5xx, connection, timeout
        │   └── CallTimeoutError    the per-call timeout ran out
        └── PermanentError          retrying won't help: 4xx, malformed reply

``HistoryWarning`` (a ``UserWarning``) says something about the history that
needs a person's attention but stops nothing: journal lines set aside in
quarantine, a fold that has to wait, a file held by another program.

``ProviderError`` never escapes a sweep: the runner records it on the trial
(``error_type`` is the class name, ``error`` the message) and carries on.
"""

from __future__ import annotations


class PromptlabError(Exception):
    """Base of every error promptlab raises on purpose."""


class ConfigError(PromptlabError):
    """Input that can't be run as given; nothing was called or written."""


class TemplateError(ConfigError):
    """A template that doesn't parse, or a variable a data row doesn't have."""


class DataError(ConfigError):
    """A data set that can't be read, or that has no rows."""


class ExperimentFileError(ConfigError):
    """An experiment file that isn't valid YAML or lacks required keys."""


class UnknownProviderError(ConfigError):
    """A ``Model`` names a provider that is not registered."""


class SecretInConfigError(ConfigError):
    """A secret was passed where only non-secret config is kept."""


class ModelFileError(ConfigError):
    """A local model file that is missing or is not a GGUF file."""


class ExportError(ConfigError):
    """An export that can't be made as asked (too few examples, a malformed one,
    an unknown format, a folder that can't be written); nothing was written."""


class ModelDownloadError(PromptlabError):
    """A model file couldn't be fetched (no index reachable, corrupt download)."""


class StoreError(PromptlabError):
    """The history database can't be opened or used."""


class NotADatabaseError(StoreError):
    """The path exists but is not a DuckDB database."""


class NewerSchemaError(StoreError):
    """The database was written by a newer promptlab than this one."""


class StoreLocationError(StoreError):
    """The database's folder can't be written (read-only or missing)."""


class StoreBusyError(StoreError):
    """Another program (not promptlab) held the database file for too long."""


class DiskFullError(StoreError):
    """The disk is full: nothing more can be recorded until space is freed;
    every trial recorded before is safe, and running the sweep again resumes it."""


class DamagedStoreError(StoreError):
    """The history file is damaged (truncated, not readable) or was altered to
    hold objects promptlab didn't create; it is not used."""


class PolicyError(PromptlabError):
    """A label move the repository's policy forbids (missing or wrong approver)."""


class PrivacyError(PolicyError):
    """Data of a tier would go to a model or an export that may not receive it,
    and no approval covers it (or an approval is itself refused)."""


class EvaluatorError(PromptlabError):
    """An evaluator couldn't score a trial; recorded on that score, never a crash."""


class NotFoundError(PromptlabError, LookupError):
    """No trial, run or prompt matches what was asked for."""


class ProviderError(PromptlabError):
    """A model call failed. The runner records it on the trial."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """HTTP status of the failed call, when there was one."""


class TransientError(ProviderError):
    """A failure worth retrying: a 5xx, a dropped connection, a timeout."""


class CallTimeoutError(TransientError):
    """The per-call timeout ran out before the model answered."""


class RateLimitError(TransientError):
    """The endpoint said to slow down (HTTP 429)."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after
        """Seconds the endpoint asked us to wait, when it said."""


class PermanentError(ProviderError):
    """A failure retrying won't fix: a 4xx other than 408/409/429, a malformed reply."""


class HistoryWarning(UserWarning):
    """Something about the history needs attention; nothing was lost and nothing stopped."""


class ServerUnreachableError(StoreBusyError):
    """The team server can't be reached now (restarted, network down). Like a
    busy file, it stops no sweep: trials wait in the local spool."""
