"""A real PostgreSQL server for the tests: Debian's binaries, a throwaway data directory, one
loopback port and a random password; stopped and removed on leaving, failure or not."""

import contextlib
import ctypes
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2

INSTALL_COMMAND = "apt-get update && apt-get install -y --no-install-recommends postgresql"
# PostgreSQL refuses to run as root: as root (as on CI) the server runs as the user that Debian's
# package creates.
SERVER_USER = "postgres"
SUPERUSER = "dagster"
PR_SET_PDEATHSIG = 1  # prctl(2)


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    username: str
    password: str

    def connect(self, database: str = "postgres"):
        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.username,
            password=self.password,
            dbname=database,
        )

    def create_database(self, name: str) -> None:
        with contextlib.closing(self.connect()) as connection:
            connection.autocommit = True  # CREATE DATABASE refuses to run in a transaction
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')


def postgres_bin_dir() -> Path:
    """The newest installed PostgreSQL's binaries, where Debian puts them."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda program: int(program.parents[1].name),
    )
    if not found:
        raise RuntimeError(f"PostgreSQL is not installed; install it as root: {INSTALL_COMMAND}")
    return found[-1].parent


def server_account() -> dict[str, object]:
    """Popen's arguments that run a program as the server's user when the tests run as root."""
    if os.geteuid() != 0:
        return {}
    account = pwd.getpwnam(SERVER_USER)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def give_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVER_USER)
        os.chown(path, account.pw_uid, account.pw_gid)


def stop_with_parent() -> None:
    # Should the test process be killed outright, its teardown never runs: the kernel then asks
    # the server for a fast shutdown instead of leaving it running. Set after the switch of user,
    # which would clear it.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)


def initdb(bin_dir: Path, data: Path, password: str) -> None:
    password_file = data.parent / "password"
    password_file.write_text(password)
    give_to_server_user(password_file)
    result = subprocess.run(
        [
            str(bin_dir / "initdb"),
            f"--pgdata={data}",
            f"--username={SUPERUSER}",
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        **server_account(),
    )
    password_file.unlink()
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def wait_until_accepting(server: PostgresServer, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            server.connect().close()
            return
        except psycopg2.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text()}") from None
            time.sleep(0.5)


@dataclass
class PostgresProcess:
    """The server's process, which a test can stop and start again on the same data."""

    bin_dir: Path
    data: Path
    log: Path
    server: PostgresServer
    process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as log_file:
            self.process = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=stop_with_parent,
                **server_account(),
            )
        wait_until_accepting(self.server, self.process, self.log)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)  # fast shutdown: clients are disconnected
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def running_postgres(port: int) -> Iterator[PostgresProcess]:
    """A fresh cluster listening on 127.0.0.1:`port` only (no Unix socket), password required."""
    bin_dir = postgres_bin_dir()
    # Not under pytest's temp folder: as root that one is closed to the server's user.
    root = Path(tempfile.mkdtemp(prefix="pricer-postgres-"))
    data, log = root / "data", root / "server.log"
    server = PostgresServer("127.0.0.1", port, SUPERUSER, secrets.token_urlsafe(16))
    try:
        give_to_server_user(root)
        initdb(bin_dir, data, server.password)
        with (data / "postgresql.conf").open("a") as settings:
            settings.write(
                f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\n"
            )
        running = PostgresProcess(bin_dir, data, log, server)
        try:
            running.start()
            yield running
        finally:
            running.stop()
    finally:
        shutil.rmtree(root)
