"""Real mail servers for the mail tests: a private Dovecot (IMAP + LMTP) and an aiosmtpd sink.

Both run as separate processes on free loopback ports, in their own temporary directories, so
the tests exercise the same protocols a production mailbox or relay speaks — no mocks. Dovecot
is Debian's (`dovecot-imapd`, `dovecot-lmtpd`); the sink is `tests/mail/smtp_sink.py`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from imapclient import IMAPClient

from patron.mail.imap import ImapAccount
from tests.conftest import missing

PASSWORD = "secret"  # Dovecot's static passdb: every user has this password
SINK_SCRIPT = Path(__file__).with_name("smtp_sink.py")
_users = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, *, timeout: float = 10, process: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {process.returncode} before listening"
                ) from None
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on 127.0.0.1:{port} after {timeout} s"
                ) from None
            time.sleep(0.02)


def real_clock_environment() -> dict[str, str]:
    """This environment without libfaketime, for a server that must keep the machine's clock.

    Dovecot clears its children's environment, so under `make test-future` its master would run a
    year ahead while its imap, auth and anvil processes do not, and their timeouts disagree. The
    whole server keeps the real clock instead, as a mail server on another machine would.
    """
    return {
        name: value
        for name, value in os.environ.items()
        if name != "LD_PRELOAD" and not name.startswith("FAKETIME")
    }


def server_now() -> datetime:
    """The clock the mail servers keep: the machine's real one (see `real_clock_environment`).

    The kernel stamps a new file with the real time and libfaketime leaves `stat` alone, so a
    fresh file's mtime reads that clock even from a process whose clock is faked.
    """
    with tempfile.NamedTemporaryFile() as probe:
        return datetime.fromtimestamp(os.stat(probe.name).st_mtime, UTC)


def find_dovecot() -> str:
    """The dovecot binary (it lives in /usr/sbin, often off a normal user's PATH)."""
    path = shutil.which("dovecot", path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/local/sbin")
    if path is None:
        missing("Dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)")
    assert path is not None
    return path


def mail_user() -> str:
    """The system user that owns the mail: Dovecot refuses uid 0, so as root it is `vmail`."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam("vmail")
    except KeyError:
        missing("the system user vmail is missing (useradd --system --no-create-home vmail)")
    return "vmail"


class Dovecot:
    """A private Dovecot: IMAP and LMTP on free 127.0.0.1 ports, mail in a temporary directory.

    Any user name logs in with PASSWORD, so each test takes a fresh `new_user()` and needs no
    clean-up. `capabilities` overrides what IMAP advertises (e.g. without MOVE or IDLE) to
    exercise a client's fallbacks against the real server.
    """

    def __init__(self, *, capabilities: str | None = None) -> None:
        self.binary = find_dovecot()
        self.owner = mail_user()
        self.capabilities = capabilities
        self.imap_port = 0
        self.lmtp_port = 0
        self.dir: Path | None = None

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        # Not under pytest's 0700 tmp_path: the mail processes run as the mail user and must
        # reach the maildirs.
        self.dir = Path(tempfile.mkdtemp(prefix="patron-dovecot-"))
        self.dir.chmod(0o755)
        mail = self.dir / "mail"
        mail.mkdir()
        (self.dir / "run").mkdir()
        owner = pwd.getpwnam(self.owner)
        os.chown(mail, owner.pw_uid, owner.pw_gid)
        self.imap_port, self.lmtp_port = free_port(), free_port()
        self.config.write_text(self._config(owner.pw_uid, owner.pw_gid))
        # Dovecot daemonizes; its output goes to a file so no pipe is held open by the daemon.
        with open(self.dir / "startup.log", "wb") as output:
            started = subprocess.run(
                [self.binary, "-c", str(self.config)],
                stdout=output,
                stderr=output,
                env=real_clock_environment(),
            )
        if started.returncode != 0:
            raise RuntimeError(
                f"dovecot exited with {started.returncode}: "
                + (self.dir / "startup.log").read_text(errors="replace")
            )
        try:
            wait_for_port(self.imap_port)
            wait_for_port(self.lmtp_port)
        except TimeoutError as error:
            raise RuntimeError(f"{error}; Dovecot log:\n{self.log()}") from None

    def stop(self) -> None:
        if self.dir is None:
            return
        pid_file = self.dir / "run" / "master.pid"
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.kill(pid, 0)  # raises ProcessLookupError once it is gone
                time.sleep(0.02)
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    @property
    def config(self) -> Path:
        assert self.dir is not None
        return self.dir / "dovecot.conf"

    def log(self) -> str:
        assert self.dir is not None
        try:
            return (self.dir / "dovecot.log").read_text()
        except FileNotFoundError:
            return ""

    def _config(self, uid: int, gid: int) -> str:
        assert self.dir is not None
        d = self.dir
        internal = "dovecot" if os.geteuid() == 0 else self.owner
        login = "dovenull" if os.geteuid() == 0 else self.owner
        capability = f"imap_capability = {self.capabilities}\n" if self.capabilities else ""
        return f"""\
base_dir = {d}/run
state_dir = {d}/state
instance_name = patron-test-{self.imap_port}
listen = 127.0.0.1
protocols = imap lmtp
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{d}/mail/%u
{capability}passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
  unix_listener lmtp {{
    mode = 0600
  }}
}}
service imap {{
  process_limit = 64
}}
log_path = {d}/dovecot.log
"""

    # -- helpers for tests ------------------------------------------------------------------
    def new_user(self) -> str:
        return f"user{next(_users)}-{os.getpid()}@example.test"

    def account(self, user: str, **changes: object) -> ImapAccount:
        values: dict[str, object] = {
            "host": "127.0.0.1",
            "port": self.imap_port,
            "username": user,
            "password": PASSWORD,
            "security": "none",
        }
        values.update(changes)
        return ImapAccount(**values)  # type: ignore[arg-type]

    def deliver(self, user: str, raw: bytes, *, sender: str = "sender@example.org") -> None:
        """Deliver one message to the user's INBOX over LMTP, as a real MTA would."""
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=10) as lmtp:
            refused = lmtp.sendmail(sender, [user], raw)
        assert not refused, refused

    def imap(self, user: str) -> IMAPClient:
        """A logged-in client for a test's own look at the mailbox (not the code under test)."""
        client = IMAPClient("127.0.0.1", self.imap_port, ssl=False, timeout=10)
        client.login(user, PASSWORD)
        return client

    def flags(self, user: str, folder: str = "INBOX") -> dict[int, set[str]]:
        """UID → flags of every message in a folder."""
        with self.imap(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["FLAGS"]) if uids else {}
            return {uid: {f.decode() for f in data[b"FLAGS"]} for uid, data in fetched.items()}

    def append(self, user: str, folder: str, raw: bytes) -> None:
        """Put a message into a folder over IMAP (creating the folder when needed)."""
        with self.imap(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw)


def message(n: int, *, size: int = 0, to: str = "support@example.test") -> bytes:
    """A small, distinct RFC 5322 message; `size` pads the body to about that many bytes."""
    body = f"Message number {n}.\r\n"
    if size:
        line = "x" * 76 + "\r\n"
        body += line * max(0, (size - 200) // len(line))
    return (
        f"From: Customer {n} <customer{n}@example.org>\r\n"
        f"To: {to}\r\n"
        f"Subject: Test {n}\r\n"
        f"Message-ID: <test-{n}-{time.time_ns()}@example.org>\r\n"
        f"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n"
        "\r\n" + body
    ).encode()


# -- the SMTP sink ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SinkMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    name: str


class SmtpSink:
    """The aiosmtpd sink in a subprocess; `stop()` and `start()` again keep the same port.

    Each accepted message is one `<name>.eml` plus `<name>.json` (the envelope) in `directory`;
    the sink answers 250 only once both are on disk.
    """

    def __init__(self, directory: Path, *, port: int | None = None) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 10) -> None:
        if self.process is not None:
            return
        self.process = subprocess.Popen(
            [sys.executable, str(SINK_SCRIPT), "--port", str(self.port), str(self.directory)],
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_for_port(self.port, timeout=timeout, process=self.process)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def messages(self) -> list[SinkMessage]:
        """Every message received so far, oldest first."""
        result = []
        for eml in sorted(self.directory.glob("*.eml")):
            envelope = json.loads(eml.with_suffix(".json").read_text())
            result.append(
                SinkMessage(
                    mail_from=envelope["mail_from"],
                    rcpt_tos=tuple(envelope["rcpt_tos"]),
                    raw=eml.read_bytes(),
                    name=eml.stem,
                )
            )
        return result

    def wait_for(self, count: int, *, timeout: float = 10) -> list[SinkMessage]:
        """Wait until at least `count` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages()
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def clear(self) -> None:
        for path in self.directory.iterdir():
            if path.suffix in {".eml", ".json"}:
                path.unlink()
