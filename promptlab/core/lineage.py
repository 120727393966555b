"""Where a trial came from: who, on which host, from which notebook or script,
at which git commit, with which promptlab."""

from __future__ import annotations

import functools
import getpass
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any


def utcnow() -> datetime:
    """Now, in UTC without a zone (how the store keeps every time)."""
    return datetime.now(UTC).replace(tzinfo=None)


_IDENTITY_VARIABLES = ("PROMPTLAB_USER", "JUPYTERHUB_USER", "USER", "LOGNAME")
"""Where a person's name comes from, in order. ``JUPYTERHUB_USER`` names the
person on a hub whose notebooks share one system account; ``USER`` comes
before ``LOGNAME`` because ``su``/``sudo -u`` and hubs set it to the person
while ``LOGNAME`` may still name the shared account."""


def current_user() -> str:
    """``PROMPTLAB_USER``, else ``JUPYTERHUB_USER``, else ``USER``, else ``LOGNAME``,
    else the account's name."""
    for variable in _IDENTITY_VARIABLES:
        user = os.environ.get(variable, "").strip()
        if user:
            return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "unknown"


HEARTBEAT_SECONDS = 30.0
"""How often a process recording a run says it is alive."""

HEARTBEAT_STALE = timedelta(minutes=5)
"""A run ``running`` with no heartbeat for this long has lost its process."""


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host is alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_status(status: str, host: Any, pid: Any, heartbeat_at: Any, now: datetime | None = None) -> str:
    """A run's status as people should read it: ``interrupted`` for a run still
    marked ``running`` whose process is gone (dead on this host, or silent for
    ``HEARTBEAT_STALE`` anywhere); run the same sweep again to resume it."""
    if status != "running":
        return status
    if host == socket.gethostname() and not _missing(pid) and not process_alive(int(pid)):
        return "interrupted"
    if not _missing(heartbeat_at) and (now or utcnow()) - heartbeat_at > HEARTBEAT_STALE:
        return "interrupted"
    return status


def _missing(value: Any) -> bool:
    return value is None or value != value  # noqa: PLR0124  (NaN and NaT are not equal to themselves)


def person(name: object) -> str:
    """A name as people are compared everywhere: ``Lee``, ``lee`` and `` lee ``
    are one person (approvals, current votes)."""
    return name.strip().casefold() if isinstance(name, str) else ""


@functools.cache
def promptlab_version() -> str:
    """The installed promptlab version."""
    try:
        return metadata.version("promptlab")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _notebook_path() -> str | None:
    # Set by ipykernel/JupyterLab and by VS Code for the running notebook.
    for variable in ("JPY_SESSION_NAME", "__vsc_ipynb_file__"):
        value = os.environ.get(variable)
        if value:
            return value
    main = sys.modules.get("__main__")
    session = getattr(main, "__session__", None) or getattr(main, "__vsc_ipynb_file__", None)
    if session:
        return str(session)
    return _executing_notebook() if _in_kernel() else None


def _in_kernel() -> bool:
    return bool(sys.argv) and sys.argv[0].endswith("ipykernel_launcher.py")


@functools.cache
def _executing_notebook() -> str | None:
    """The notebook a headless runner executes (``jupyter nbconvert --execute``,
    ``papermill``, ``jupyter execute``): none of them tells the kernel, but the
    kernel's parent was started with the notebook's path (read on Linux)."""
    parent = os.getppid()
    try:
        arguments = Path(f"/proc/{parent}/cmdline").read_bytes().split(b"\0")[1:]
        folder = os.readlink(f"/proc/{parent}/cwd")
    except OSError:
        return None
    for argument in arguments:
        text = argument.decode(errors="replace")
        if text.endswith(".ipynb"):
            return str((Path(folder) / text).resolve())  # an absolute path stays itself
    return None


def current_source() -> str | None:
    """``PROMPTLAB_SOURCE`` when set (the CLI sets the experiment file), else the
    notebook path when in a notebook, else the script being run."""
    explicit = os.environ.get("PROMPTLAB_SOURCE")
    if explicit:
        return explicit
    notebook = _notebook_path()
    if notebook:
        return notebook
    script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c") else None
    if script and not _in_kernel():
        return str(Path(script).resolve()) if Path(script).exists() else script
    return None


_GIT_COMMITS: dict[str, tuple[tuple[int, ...], str | None]] = {}


def _git_state(directory: str) -> tuple[int, ...] | None:
    """Changes whenever HEAD moves: the modification times of HEAD, the ref it
    names and packed-refs. None outside a plain repository (then git is asked)."""
    for folder in (Path(directory), *Path(directory).parents):
        git = folder / ".git"
        if git.is_dir():
            head = git / "HEAD"
            try:
                content = head.read_text().strip()
            except OSError:
                return None
            ref = git / content.removeprefix("ref: ") if content.startswith("ref: ") else head
            return tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in (head, ref, git / "packed-refs"))
        if git.exists():
            return None  # a worktree or submodule: .git is a file
    return ()


def _git_commit(directory: str) -> str | None:
    """The commit checked out in ``directory``, asked of git only when HEAD moved
    (a notebook that commits between sweeps records the new commit)."""
    state = _git_state(directory)
    if state == ():
        return None  # not in a repository
    cached = _GIT_COMMITS.get(directory)
    if state is not None and cached is not None and cached[0] == state:
        return cached[1]
    commit = _read_git_commit(directory)
    if state is not None:
        _GIT_COMMITS[directory] = (state, commit)
    return commit


def _read_git_commit(directory: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


@dataclass(frozen=True)
class Lineage:
    """Who ran something, where and from what."""

    user: str
    """``PROMPTLAB_USER`` or the login name."""

    host: str
    """Host name."""

    pid: int
    """Process id."""

    source: str | None
    """Notebook path or script, when known."""

    git_commit: str | None
    """Commit of the git repository the process runs in, when it is in one."""

    promptlab_version: str
    """Version of promptlab that recorded it."""

    def to_row(self) -> dict[str, Any]:
        """The lineage columns of a run or trial row (every field is a plain value,
        so no ``asdict`` walk: a sweep asks once per trial)."""
        return dict(vars(self))


def current_lineage(user: str | None = None) -> Lineage:
    """Lineage of the calling process, now; ``user`` when the store knows who
    records (a team server records the role that logged in)."""
    return Lineage(
        user=user or current_user(),
        host=socket.gethostname(),
        pid=os.getpid(),
        source=current_source(),
        git_commit=_git_commit(os.getcwd()),
        promptlab_version=promptlab_version(),
    )
