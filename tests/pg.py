"""A throwaway PostgreSQL server for the tests, from Debian's ``postgresql`` package.

One cluster per test session: ``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/<version>/bin``,
run as an unprivileged user (PostgreSQL refuses to run as root, and CI runs the tests as root:
there the server runs as the ``postgres`` system user that the package creates, or ``nobody``),
listening only on a Unix socket in a private temporary folder, with ``fsync=off``. Each test that
asks for :func:`pg_url` gets a database of its own, copied from a template that holds the lab
store's schema, and dropped after the test. The cluster is stopped and its folder removed at the
end of the session.

Where the server cannot start (no package, no unprivileged user), the tests that need it skip and
say why; with ``MELAB_PG_REQUIRED=1`` (set by ``.ci/run``) they fail instead, so CI cannot pass
without running them.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

#: The role the tests connect as (the cluster's superuser; trust authentication on the socket).
ROLE = "meterlab"
PORT = 5432  # only names the socket file inside the private folder: no TCP port is opened
TEMPLATE = "labstore_template"
_counter = itertools.count(1)


class ClusterUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says why."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not found:
        raise ClusterUnavailable(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); "
            "run .ci/system-packages")
    return Path(found[-1]).parent


def _server_user() -> str | None:
    """The unprivileged user to run the server as when we are root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise ClusterUnavailable("running as root and there is no postgres or nobody user to run "
                             "PostgreSQL as")


@dataclass
class Cluster:
    """A running throwaway cluster."""

    root: Path
    socket_dir: Path
    bin_dir: Path
    user: str | None

    def url(self, database: str) -> str:
        """An SQLAlchemy URL for `database` over the cluster's Unix socket."""
        return f"postgresql+psycopg://{ROLE}@/{database}?host={self.socket_dir}&port={PORT}"

    def admin(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE) as the superuser."""
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), port=PORT, user=ROLE, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def stop(self) -> None:
        _run(self, [str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m",
                    "immediate", "-w", "stop"], check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def stop_server(self) -> None:
        """Stop the server (its clients are disconnected), keeping its data to start it again."""
        _run(self, [str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast",
                    "-w", "stop"])

    def start_server(self) -> None:
        """Start the server again after :meth:`stop_server`."""
        _start_server(self.user, self.bin_dir, self.root, self.socket_dir)


def _run(cluster_or_user: Cluster | str | None, argv: list[str],
         check: bool = True) -> subprocess.CompletedProcess:
    user = cluster_or_user.user if isinstance(cluster_or_user, Cluster) else cluster_or_user
    if user is not None:
        # runuser (util-linux) switches to the unprivileged user without a password or a login
        # shell; the server keeps no capability of root's.
        argv = ["runuser", "-u", user, "--", *argv]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"})
    if check and proc.returncode != 0:
        raise ClusterUnavailable(
            f"{Path(argv[argv.index('--') + 1] if '--' in argv else argv[0]).name} failed "
            f"({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-400:]}")
    return proc


def _start_server(user: str | None, bin_dir: Path, root: Path, socket_dir: Path) -> None:
    options = (f"-c listen_addresses='' -c unix_socket_directories={socket_dir} "
               f"-c port={PORT} -c fsync=off -c synchronous_commit=off "
               f"-c full_page_writes=off -c max_connections=50")
    _run(user, [str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "server.log"),
                "-o", options, "-w", "-t", "60", "start"])


def start_cluster() -> Cluster:
    """Create and start a cluster in a new temporary folder.

    Raises:
        ClusterUnavailable: with the reason, when it cannot be done here.
    """
    bin_dir = _bin_dir()
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="meterlab-pg-"))
    try:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        socket_dir = root / "socket"
        data = root / "data"
        _run(user, ["mkdir", str(socket_dir)])
        _run(user, [str(bin_dir / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust",
                    "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"])
        _start_server(user, bin_dir, root, socket_dir)
    except (ClusterUnavailable, OSError, subprocess.SubprocessError) as exc:
        log = root / "server.log"
        detail = f"; server log: {log.read_text()[-400:]}" if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise ClusterUnavailable(f"{exc}{detail}") from exc
    return Cluster(root=root, socket_dir=socket_dir, bin_dir=bin_dir, user=user)


def _unavailable(reason: str) -> None:
    if os.environ.get("MELAB_PG_REQUIRED") == "1":
        pytest.fail(f"PostgreSQL is required here (MELAB_PG_REQUIRED=1) but {reason}",
                    pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A running cluster for the whole session, with a template database holding the lab store.

    Skips (or fails, with MELAB_PG_REQUIRED=1) when PostgreSQL cannot start here.
    """
    try:
        cluster = start_cluster()
    except ClusterUnavailable as exc:
        _unavailable(str(exc))
    try:
        cluster.admin(f"CREATE DATABASE {TEMPLATE}")
        _prepare_template(cluster.url(TEMPLATE))
        yield cluster
    finally:
        cluster.stop()


def _prepare_template(url: str) -> None:
    """Bring the template database to the lab store's newest schema (once per session)."""
    from app.storage.labstore import upgrade_lab_store

    upgrade_lab_store(url)


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """A fresh database (a copy of the template) for one test, dropped after it."""
    name = f"test_{os.getpid()}_{next(_counter)}"
    pg_cluster.admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    try:
        yield pg_cluster.url(name)
    finally:
        pg_cluster.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def own_pg() -> Iterator[tuple[Cluster, str]]:
    """A server of the test's own (to stop and start: the session's stays up) and the URL of
    its database ``lab``, holding the lab store; stopped after the test."""
    from app.storage.labstore import upgrade_lab_store

    try:
        cluster = start_cluster()
    except ClusterUnavailable as exc:
        _unavailable(str(exc))
    try:
        cluster.admin("CREATE DATABASE lab")
        url = cluster.url("lab")
        upgrade_lab_store(url)
        yield cluster, url
    finally:
        cluster.stop()
