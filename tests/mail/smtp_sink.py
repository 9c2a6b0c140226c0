"""An SMTP sink for outbound tests, run as its own process: `python smtp_sink.py --port N DIR`.

Every accepted message becomes DIR/<name>.eml with its envelope in DIR/<name>.json; the sink
answers 250 only after both are on disk (the .json first, the .eml renamed into place last, so a
reader never sees half a message). It stops cleanly on SIGTERM/SIGINT, and binds with
SO_REUSEADDR so a test can start it again on the same port at once.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

_counter = itertools.count(1)


class SinkHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(_counter):06d}"
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": list(session.peer) if isinstance(session.peer, tuple) else session.peer,
        }
        json_path = self.directory / f"{name}.json"
        json_path.write_text(json.dumps(meta))
        partial = self.directory / f".{name}.eml.part"
        partial.write_bytes(envelope.original_content)
        partial.rename(self.directory / f"{name}.eml")
        return "250 2.0.0 OK"


async def main(host: str, port: int, directory: Path) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    handler = SinkHandler(directory)
    server = await loop.create_server(
        lambda: SMTP(handler, enable_SMTPUTF8=True, hostname="sink.test", loop=loop),
        host,
        port,
        reuse_address=True,
    )
    print(f"READY {port}", flush=True)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    args.directory.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(args.host, args.port, args.directory))
