"""Certificates made for the tests (trustme), a raw upgrade client and a served TLS configuration."""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
import trustme

HEADERS = (
    "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: ocpp1.6\r\n"
)


@dataclass
class Pki:
    """The server's CA and certificate, the stations' CA and client certificates (files in tmp_path)."""

    server_ca: trustme.CA
    server_cert: Path
    server_key: Path
    server_ca_file: Path
    station_ca_file: Path
    station_ca: trustme.CA
    directory: Path

    def client_cert(self, common_name: str) -> Path:
        """A client certificate (with its key, one file) issued by the stations' CA to ``common_name``."""
        path = self.directory / f"client-{common_name}.pem"
        issued = self.station_ca.issue_cert(f"{common_name.lower()}.stations.test", common_name=common_name)
        issued.private_key_and_cert_chain_pem.write_to_path(str(path))
        return path

    def client_context(self, cert: Path | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.server_ca_file))
        if cert is not None:
            context.load_cert_chain(str(cert))
        return context


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    server_ca, station_ca = trustme.CA(), trustme.CA()
    issued = server_ca.issue_cert("127.0.0.1", "localhost")
    files = {name: tmp_path / f"{name}.pem" for name in ("server", "server-key", "server-ca", "station-ca")}
    issued.cert_chain_pems[0].write_to_path(str(files["server"]))
    issued.private_key_pem.write_to_path(str(files["server-key"]))
    server_ca.cert_pem.write_to_path(str(files["server-ca"]))
    station_ca.cert_pem.write_to_path(str(files["station-ca"]))
    return Pki(
        server_ca,
        files["server"],
        files["server-key"],
        files["server-ca"],
        files["station-ca"],
        station_ca,
        tmp_path,
    )


@dataclass
class Answer:
    status: int
    head: str


async def upgrade(
    port: int,
    station_id: str,
    *,
    password: str | None = None,
    user: str | None = None,
    context: ssl.SSLContext | None = None,
    source: str = "127.0.0.1",
) -> Answer:
    """One upgrade request for ``station_id`` from ``source`` (any 127.x address); the HTTP answer."""
    sock = trio.socket.socket()
    await sock.bind((source, 0))
    await sock.connect(("127.0.0.1", port))
    stream: trio.abc.Stream = trio.SocketStream(sock)
    if context is not None:
        stream = trio.SSLStream(stream, context, server_hostname="127.0.0.1")
    request = f"GET /ocpp/{station_id} HTTP/1.1\r\n{HEADERS}"
    if password is not None:
        basic = base64.b64encode(f"{user or station_id}:{password}".encode()).decode()
        request += f"Authorization: Basic {basic}\r\n"
    answer = b""
    with trio.fail_after(30):
        await stream.send_all((request + "\r\n").encode())
        while b"\r\n\r\n" not in answer:
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            answer += chunk
    with trio.CancelScope(shield=True):
        await trio.aclose_forcefully(stream)
    head = answer.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("HTTP/1.1 "), answer[:200]
    return Answer(int(head.split(" ", 2)[1]), head)
