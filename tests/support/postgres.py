"""A private PostgreSQL cluster for the tests: ``initdb`` and ``pg_ctl`` from
Debian's ``postgresql`` package, in a temporary folder, on a free port of
127.0.0.1, stopped at the end of the session. No mock database.

PostgreSQL refuses to run as root, so when the tests run as root (CI, this
machine) the cluster belongs to the ``postgres`` system user the package
made. Authentication is ``trust`` on loopback (the tests connect as many
roles), except for the role ``lab_pw``, which must give a password, so
a test can check where a password goes.

Each test gets a database of its own, copied from a template that ``promptlab
db init`` prepared once (``CREATE DATABASE ... TEMPLATE``: tens of ms).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SUPERUSER = "postgres"
"""The cluster's superuser (also the tests' admin connection)."""

TEMPLATE = "promptlab_template"
"""The database ``db init`` prepared, which each test's database copies."""


def bin_dir() -> Path | None:
    """The folder of Debian's PostgreSQL server programs (the newest), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A running private cluster."""

    root: Path
    port: int
    bin: Path
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        auth = user if password is None else f"{user}:{password}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres", user: str = SUPERUSER) -> str:
        """Run ``sql`` with psql (as ``user``), return its output; raise on error."""
        done = subprocess.run(
            ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.url(database, user), "-c", sql],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(done.stderr.strip())
        return done.stdout

    def new_database(self, template: str = TEMPLATE) -> str:
        """A fresh database copied from ``template``; its name."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def _ctl(self, *args: str) -> None:
        _run_as_owner([str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), *args])

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("stop", "-m", "immediate", "-w")

    def start(self) -> None:
        self._ctl("start", "-w", "-t", "60", "-l", str(self.root / "server.log"))


def _owner_prefix() -> list[str]:
    return ["runuser", "-u", SUPERUSER, "--"] if os.geteuid() == 0 else []


def _run_as_owner(command: list[str]) -> None:
    subprocess.run(_owner_prefix() + command, check=True, capture_output=True, timeout=120)


def start_cluster() -> Cluster:
    """initdb + pg_ctl start in a fresh temporary folder; raise when PostgreSQL
    isn't installed (``.ci/run`` installs Debian's ``postgresql``)."""
    programs = bin_dir()
    if programs is None:
        raise RuntimeError("PostgreSQL's server programs are missing: apt-get install postgresql (see .ci/run)")
    root = Path(tempfile.mkdtemp(prefix="promptlab-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, SUPERUSER, SUPERUSER)
    data = root / "data"
    _run_as_owner(
        [str(programs / "initdb"), "-D", str(data), "-U", SUPERUSER, "-E", "UTF8", "--no-sync", "-A", "trust"]
    )
    hba = data / "pg_hba.conf"
    hba.write_text("local all all trust\nhost all lab_pw 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n")
    port = _free_port()
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
        )
    cluster = Cluster(root, port, programs)
    cluster.start()
    return cluster


def remove_cluster(cluster: Cluster) -> None:
    cluster.stop()
    shutil.rmtree(cluster.root, ignore_errors=True)


def wait_until_up(cluster: Cluster, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(RuntimeError):
            cluster.psql("SELECT 1")
            return
        time.sleep(0.1)
    raise RuntimeError(f"the test cluster on port {cluster.port} did not come back")


@contextlib.contextmanager
def prepared_cluster() -> Iterator[Cluster]:
    """A cluster with a template database ``promptlab db init`` set up (roles
    included) and the researcher ``tester``, removed afterwards."""
    from promptlab.store.server import roles
    from promptlab.store.server.connection import connect

    cluster = start_cluster()
    try:
        cluster.psql(f'CREATE DATABASE "{TEMPLATE}"')
        with connect(cluster.url(TEMPLATE)) as connection:
            roles.init(connection)
            roles.grant(connection, "tester", "researcher")
        yield cluster
    finally:
        remove_cluster(cluster)
