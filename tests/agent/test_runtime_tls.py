"""``--ca-cert`` pins the server's CA: a real TLS gateway on loopback whose certificate is
signed by a CA made in the test. With that CA the agent enrolls and runs; without it, or
with another CA, it refuses to talk (and writes no config)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.routing import Route

from breeze_agent.config import load_config
from tests.agent.test_runtime_gateway import FakeGateway, _free_port

AGENT = (sys.executable, "-m", "breeze_agent.cli")
KEY = "brz_enr_" + "t" * 20


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(path: Path, cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, cert_path: Path, key_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("breeze-test-server"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture(scope="module")
def tls_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeGateway, Path]]:
    d = tmp_path_factory.mktemp("tls")
    ca_key, ca = _ca(d / "ca.pem", "Breeze Test CA")
    _server_cert(ca_key, ca, d / "server.pem", d / "server.key")
    gw = FakeGateway()
    app = Starlette(
        routes=[
            Route("/api/v1/agents/enroll", gw.enroll, methods=["POST"]),
            Route("/api/v1/agents/{agent_id}/heartbeat", gw.heartbeat, methods=["POST"]),
            Route("/api/v1/agents/{agent_id}/inventory", gw.inventory, methods=["PUT"]),
        ]
    )
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ssl_certfile=str(d / "server.pem"),
        ssl_keyfile=str(d / "server.key"),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    gw.url = f"https://127.0.0.1:{port}"
    yield gw, d / "ca.pem"
    server.should_exit = True
    thread.join(timeout=10)


def enroll(url: str, cfg: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENT, "enroll", "--server", url, "--key", KEY, "--config", str(cfg), *extra],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")},
    )


def test_the_pinned_ca_is_trusted(tls_gateway: tuple[FakeGateway, Path], tmp_path: Path) -> None:
    gw, ca = tls_gateway
    gw.reset()
    cfg = tmp_path / "agent.json"
    done = enroll(gw.url, cfg, "--ca-cert", str(ca))
    assert done.returncode == 0, done.stderr
    config = load_config(cfg)
    assert config.ca_cert == str(ca.resolve()) and config.server_url == gw.url
    assert [s.body["mode"] for s in gw.of("/inventory")] == ["full"]  # the token travels over TLS


def test_without_the_pinned_ca_nothing_is_sent(
    tls_gateway: tuple[FakeGateway, Path], tmp_path: Path
) -> None:
    gw, _ = tls_gateway
    gw.reset()
    other = tmp_path / "other-ca.pem"
    _ca(other, "Some Other CA")
    for extra in ((), ("--ca-cert", str(other))):
        cfg = tmp_path / f"agent-{len(extra)}.json"
        done = enroll(gw.url, cfg, *extra)
        assert done.returncode == 1, done.stderr
        assert "CERTIFICATE_VERIFY_FAILED" in done.stderr
        assert not cfg.exists()
    assert gw.seen == []
