"""A real, private Sigstore instance on 127.0.0.1, for honest sign-then-verify tests.

Services (each a real upstream binary, built by ``.ci/install-sigstack``):

- an OIDC issuer (this module: discovery document, JWKS, a token endpoint) that mints
  ``aud=sigstore`` email tokens, signed with a key made at start-up;
- Fulcio with an ephemeral CA, trusting that issuer;
- TesseraCT (a static CT log) with POSIX storage, accepting Fulcio's root;
- Rekor v2 (rekor-tiles) with POSIX storage;
- Rekor v1 (rekor-server on Trillian, PostgreSQL storage), for PEP 740 attestations, whose
  format carries only Rekor v1 entries. The signing config lists both logs under one operator,
  so sigstore-python signs with v2 unless told ``force_tlog_version = 1``. rekor-server always
  binds its metrics port 2112 on every address, so it and Trillian run in a network namespace
  of their own (fixed ports inside), reached through a Unix socket; PostgreSQL serves a Unix
  socket only;
- the timestamp authority with an in-memory signer, in a network namespace of its own: it
  always binds its metrics port 2112 on every address (no flag changes that), so two test runs
  on one host would collide. It serves a Unix socket there, and a thread here forwards a free
  port on 127.0.0.1 to it.

``SigstoreStack.start()`` brings them up on free ports, waits for each to answer, and writes
a ``ClientTrustConfig`` JSON (trusted root + signing config) that points sigstore-python at
them. Run ``python tests/sigstack.py --bin DIR`` to keep one running by hand (README:
"Sign without the public instance").
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

if TYPE_CHECKING:
    import pytest

# Where each binary lands inside the bin directory (the two `posix` ones need their own dir).
BINARIES = {
    "fulcio": "fulcio/fulcio",
    "tesseract": "tesseract/posix",
    "rekor": "rekor/posix",
    "tsa": "tsa/timestamp-server",
    "trillian_log_server": "rekor1/trillian_log_server",
    "trillian_log_signer": "rekor1/trillian_log_signer",
    "rekor1": "rekor1/rekor-server",
    "trillian_schema": "rekor1/trillian-postgresql.sql",
}
CLIENT_ID = "sigstore"
VALID_FROM = "2020-01-01T00:00:00Z"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _log_instance(url: str, key: Any) -> dict[str, Any]:
    """A transparency log (Rekor or CT) entry of the trusted root: its URL and P-256 key."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": base64.b64encode(der).decode(),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": {"start": VALID_FROM},
        },
        "logId": {"keyId": base64.b64encode(hashlib.sha256(der).digest()).decode()},
    }


def _pem_chain(pem: bytes) -> list[dict[str, str]]:
    certs = x509.load_pem_x509_certificates(pem)
    return [{"rawBytes": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()} for cert in certs]


def isolated_network() -> list[str]:
    """The prefix that runs a command in a network namespace of its own (only a loopback inside)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise RuntimeError(
            "the timestamp authority needs `unshare` (util-linux) to run in its own network namespace "
            "(it binds the fixed port 2112): install util-linux"
        )
    # root may make a network namespace directly; anyone else needs a user namespace around it.
    return [unshare, "--net"] if os.geteuid() == 0 else [unshare, "--user", "--map-root-user", "--net"]


def _loopback_up() -> None:
    """`ip link set lo up` without iproute2 (a new network namespace starts with lo down)."""
    import fcntl
    import struct

    get_flags, set_flags, up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(sock.fileno(), get_flags, request))[1]
        fcntl.ioctl(sock.fileno(), set_flags, struct.pack("16sH14s", b"lo", flags | up, b""))


def _serve_namespace(socket_path: str, port: int) -> None:
    """Run inside a new network namespace (``--namespace-forward``): bring lo up, then forward the
    Unix socket ``socket_path`` (a file, so the host reaches it) to 127.0.0.1:``port`` in here."""
    _loopback_up()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            try:
                upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:  # not listening yet: the client sees a closed connection and retries
                return
            with upstream:
                back = threading.Thread(target=_pump, args=(upstream, self.request), daemon=True)
                back.start()
                _pump(self.request, upstream)
                back.join()

    socketserver.ThreadingUnixStreamServer.daemon_threads = True
    with socketserver.ThreadingUnixStreamServer(socket_path, Handler) as server:
        server.serve_forever()


class UnixForwarder:
    """Forwards 127.0.0.1:port to a Unix socket (a service inside another network namespace)."""

    def __init__(self, socket_path: Path) -> None:
        target = str(socket_path)

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as upstream:
                    try:
                        upstream.connect(target)
                    except OSError:  # not listening yet: the client sees a closed connection and retries
                        return
                    back = threading.Thread(target=_pump, args=(upstream, self.request), daemon=True)
                    back.start()
                    _pump(self.request, upstream)
                    back.join()

        socketserver.ThreadingTCPServer.daemon_threads = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes until ``source`` closes, then pass the end of stream on."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


class OIDCIssuer:
    """A minimal OpenID provider: enough for Fulcio to verify the tokens it mints."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body: dict[str, Any] = {
                        "issuer": issuer.url,
                        "jwks_uri": f"{issuer.url}/jwks",
                        "token_endpoint": f"{issuer.url}/token",
                        "authorization_endpoint": f"{issuer.url}/auth",
                        "response_types_supported": ["id_token"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                elif self.path == "/jwks":
                    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(issuer._key.public_key()))
                    body = {"keys": [{**jwk, "kid": "test", "alg": "RS256", "use": "sig"}]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(self, email: str, *, lifetime: int = 600) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": email,
            "aud": CLIENT_ID,
            "email": email,
            "email_verified": True,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "test"})


@dataclass
class SigstoreStack:
    bin_dir: Path
    work: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    issuer: OIDCIssuer = field(default_factory=OIDCIssuer)
    trust_config: Path | None = None
    trusted_root: Path | None = None
    signing_config: Path | None = None
    _forwarder: UnixForwarder | None = None
    _forwarders: list[UnixForwarder] = field(default_factory=list)
    _cleanup: list[Path] = field(default_factory=list)

    def _binary(self, name: str) -> str:
        path = self.bin_dir / BINARIES[name]
        if not path.is_file():
            raise RuntimeError(f"{path} is missing: run .ci/install-sigstack {self.bin_dir}")
        return str(path)

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = self.work / f"{name}.log"
        self.logs.append(log)
        with log.open("wb") as handle:
            process = subprocess.Popen(
                argv, cwd=self.work, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self.processes.append(process)

    def _wait(self, name: str, url: str, *, timeout: float = 60.0, method: str = "GET") -> bytes:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{name}: a service exited early; logs:\n{self.tail()}")
            try:
                with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as response:
                    data: bytes = response.read()
                    return data
            except Exception as exc:
                last = exc
                time.sleep(0.2)
        raise RuntimeError(f"{name} did not answer {url} within {timeout}s ({last}); logs:\n{self.tail()}")

    def _socket_dir(self) -> Path:
        """``work``, or a short private directory when its path is too long for a Unix socket name."""
        if len(str(self.work / "tsa.sock")) < 100:
            return self.work
        short = Path(tempfile.mkdtemp(prefix="sigstack-"))
        self._cleanup.append(short)
        return short

    def _wait_until(self, name: str, ready: Any, *, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{name}: a service exited early; logs:\n{self.tail()}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{name} was not ready within {timeout}s; logs:\n{self.tail()}")

    def _start_postgres(self, private: Path) -> str:
        """A PostgreSQL cluster on a Unix socket in ``private`` (no TCP), with Trillian's schema; its URI."""
        import glob
        import pwd

        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        if not found:
            raise RuntimeError("Rekor v1 keeps Trillian's state in PostgreSQL: install it (apt-get install postgresql)")
        server = Path(found[-1]).parent
        as_user: list[str] = []
        if os.geteuid() == 0:  # postgres refuses to run as root; setpriv execs in place, so the PID is the server's
            account = pwd.getpwnam("postgres")
            os.chown(private, account.pw_uid, account.pw_gid)
            as_user = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups"]
        data = private / "pgdata"
        subprocess.run(
            [
                *as_user,
                str(server / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
        )
        self._spawn(
            "postgres",
            [
                *as_user,
                str(server / "postgres"),
                "-D",
                str(data),
                *("-c", "listen_addresses="),
                *("-c", f"unix_socket_directories={private}"),
                *("-c", "fsync=off"),
                *("-c", "shared_buffers=16MB"),
            ],
        )
        psql = [str(server / "psql") if (server / "psql").exists() else "psql", "-h", str(private), "-U", "postgres"]
        psql += ["-q", "-v", "ON_ERROR_STOP=1"]

        def answers() -> bool:
            return subprocess.run([*psql, "-c", "select 1"], capture_output=True).returncode == 0

        self._wait_until("postgres", answers)
        subprocess.run([*psql, "-c", "CREATE DATABASE trillian"], check=True, capture_output=True)
        subprocess.run(
            [*psql, "-d", "trillian", "-f", self._binary("trillian_schema")], check=True, capture_output=True
        )
        return f"postgresql:///trillian?host={private}&user=postgres"

    def _start_rekor_v1(self) -> tuple[str, Any]:
        """Trillian (log server, signer) and rekor-server v1 in a network namespace of their own; the
        URL a forwarder serves it at on 127.0.0.1, and its public key."""
        private = Path(tempfile.mkdtemp(prefix="rekor1-"))  # short (socket names) and reachable by postgres
        self._cleanup.append(private)
        database = ["--storage_system=postgresql", "--quota_system=postgresql"]
        database.append(f"--postgresql_uri={self._start_postgres(private)}")
        entry = private / "rekor.sock"
        holder = subprocess.Popen(
            [
                *isolated_network(),
                sys.executable,
                str(Path(__file__).resolve()),
                "--namespace-forward",
                str(entry),
                "3000",
            ],
            cwd=self.work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.work / "rekor1-namespace.log").open("wb"),
        )
        self.processes.append(holder)
        self._wait_until("rekor1 namespace", entry.exists)
        inside = (
            ["nsenter", f"--net=/proc/{holder.pid}/ns/net", "--"]
            if os.geteuid() == 0
            else ["nsenter", "-t", str(holder.pid), "--user", "--net", "--preserve-credentials", "--"]
        )
        common = [*database, "--http_endpoint=", "--logtostderr"]
        self._spawn(
            "trillian_log_server",
            [*inside, self._binary("trillian_log_server"), *common, "--rpc_endpoint=127.0.0.1:8090"],
        )
        self._spawn(
            "trillian_log_signer",
            [
                *inside,
                self._binary("trillian_log_signer"),
                *common,
                "--rpc_endpoint=127.0.0.1:8091",
                "--force_master",
                "--sequencer_interval=50ms",
            ],
        )

        def trillian_listens() -> bool:  # rekor-server panics when Trillian is not up yet
            probe = [*inside, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8090"]
            return subprocess.run(probe, capture_output=True).returncode == 0

        self._wait_until("trillian_log_server", trillian_listens)
        key = ec.generate_private_key(ec.SECP256R1())
        key_path = self.work / "rekor1-key.pem"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self._spawn(
            "rekor1",
            [
                *inside,
                self._binary("rekor1"),
                "serve",
                "--rekor_server.address=127.0.0.1",
                "--port=3000",
                "--rekor_server.hostname=127.0.0.1",
                f"--rekor_server.signer={key_path}",
                "--trillian_log_server.address=127.0.0.1",
                "--trillian_log_server.port=8090",
                # No Redis: the search index is off (the deprecated flag turns it on by default).
                "--enable_retrieve_api=false",
                "--enabled_api_endpoints=getLogInfo,getPublicKey,getLogProof,createLogEntry,getLogEntryByIndex,"
                "getLogEntryByUUID,searchLogQuery",
                "--log_type=prod",
            ],
        )
        forwarder = UnixForwarder(entry)
        forwarder.start()
        self._forwarders.append(forwarder)
        url = f"http://127.0.0.1:{forwarder.port}"
        self._wait("rekor1", f"{url}/api/v1/log", timeout=120)
        return url, key.public_key()

    def tail(self) -> str:
        parts = []
        for log in self.logs:
            text = log.read_text(errors="replace") if log.exists() else ""
            parts.append(f"--- {log.name}\n" + "\n".join(text.splitlines()[-15:]))
        return "\n".join(parts)

    def start(self) -> SigstoreStack:
        self.work.mkdir(parents=True, exist_ok=True)
        self.issuer.start()
        ct_port, fulcio_port, rekor_port = free_port(), free_port(), free_port()
        ct_address = f"127.0.0.1:{ct_port}"
        ct_origin = "127.0.0.1"  # the host part of the URL Fulcio submits to (TesseraCT wants no port)

        # Fulcio first: the CT log only accepts chains to Fulcio's (ephemeral) root.
        fulcio_config = self.work / "fulcio.json"
        fulcio_config.write_text(
            json.dumps(
                {
                    "OIDCIssuers": {
                        self.issuer.url: {"IssuerURL": self.issuer.url, "ClientID": CLIENT_ID, "Type": "email"}
                    }
                }
            )
        )
        self._spawn(
            "fulcio",
            [
                self._binary("fulcio"),
                "serve",
                "--ca",
                "ephemeralca",
                "--config-path",
                str(fulcio_config),
                "--host",
                "127.0.0.1",
                "--port",
                str(fulcio_port),
                "--grpc-host",
                "127.0.0.1",
                "--grpc-port",
                str(free_port()),
                "--metrics-port",
                str(free_port()),
                "--legacy-unix-domain-socket",
                f"@fulcio-legacy-{os.getpid()}-{fulcio_port}",
                "--ct-log-url",
                f"http://{ct_address}",
            ],
        )
        fulcio_url = f"http://127.0.0.1:{fulcio_port}"
        fulcio_chain = self._wait("fulcio", f"{fulcio_url}/api/v1/rootCert")
        roots = self.work / "fulcio-root.pem"
        roots.write_bytes(fulcio_chain)

        ct_key = ec.generate_private_key(ec.SECP256R1())
        ct_key_path = self.work / "ct-key.pem"
        ct_key_path.write_bytes(
            ct_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            )
        )
        self._spawn(
            "tesseract",
            [
                self._binary("tesseract"),
                "--http_endpoint",
                ct_address,
                "--origin",
                ct_origin,
                "--private_key",
                str(ct_key_path),
                "--roots_pem_file",
                str(roots),
                "--storage_dir",
                str(self.work / "ct"),
                "--checkpoint_interval",
                "500ms",
            ],
        )

        rekor_key = ec.generate_private_key(ec.SECP256R1())
        rekor_key_path = self.work / "rekor-key.pem"
        rekor_key_path.write_bytes(
            rekor_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        # The checkpoint origin is the log's host *without* the port: sigstore-go (cosign) checks it
        # against the trusted root's log URL that way ("note has no verifiable signatures" otherwise).
        rekor_origin = "127.0.0.1"
        self._spawn(
            "rekor",
            [
                self._binary("rekor"),
                "serve",
                "--http-address",
                "127.0.0.1",
                "--http-port",
                str(rekor_port),
                "--grpc-address",
                "127.0.0.1",
                "--grpc-port",
                str(free_port()),
                "--http-metrics-port",
                str(free_port()),
                "--hostname",
                rekor_origin,
                "--signer-filepath",
                str(rekor_key_path),
                "--storage-dir",
                str(self.work / "rekor"),
                "--checkpoint-interval",
                "1s",
            ],
        )
        tsa_socket = self._socket_dir() / "tsa.sock"
        self._spawn(
            "tsa",
            [
                *isolated_network(),
                self._binary("tsa"),
                "serve",
                "--scheme",
                "unix",
                "--socket-path",
                str(tsa_socket),
                "--timestamp-signer",
                "memory",
                "--disable-ntp-monitoring",
            ],
        )
        self._forwarder = UnixForwarder(tsa_socket)
        self._forwarder.start()
        rekor1_url, rekor1_key = self._start_rekor_v1()
        tsa_url = f"http://127.0.0.1:{self._forwarder.port}"
        rekor_url = f"http://127.0.0.1:{rekor_port}"
        tsa_chain = self._wait("tsa", f"{tsa_url}/api/v1/timestamp/certchain")
        self._wait("tesseract", f"http://{ct_address}/ct/v1/get-roots")
        self._wait("rekor", f"{rekor_url}/healthz")

        trusted_root = {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [_log_instance(rekor_url, rekor_key.public_key()), _log_instance(rekor1_url, rekor1_key)],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "local", "commonName": "fulcio"},
                    "uri": fulcio_url,
                    "certChain": {"certificates": _pem_chain(fulcio_chain)},
                    "validFor": {"start": VALID_FROM},
                }
            ],
            "ctlogs": [_log_instance(f"http://{ct_address}", ct_key.public_key())],
            "timestampAuthorities": [
                {
                    "subject": {"organization": "local", "commonName": "tsa"},
                    "uri": f"{tsa_url}/api/v1/timestamp",
                    "certChain": {"certificates": _pem_chain(tsa_chain)},
                    "validFor": {"start": VALID_FROM},
                }
            ],
        }
        service = {"majorApiVersion": 1, "validFor": {"start": VALID_FROM}, "operator": "local"}
        signing_config = {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [{"url": fulcio_url, **service}],
            "oidcUrls": [{"url": self.issuer.url, **service}],
            "rekorTlogUrls": [{"url": rekor_url, **service, "majorApiVersion": 2}, {"url": rekor1_url, **service}],
            "tsaUrls": [{"url": f"{tsa_url}/api/v1/timestamp", **service}],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        }
        # The trusted root alone: what cosign's --trusted-root takes.
        self.trusted_root = self.work / "trusted-root.json"
        self.trusted_root.write_text(json.dumps(trusted_root, indent=2))
        self.signing_config = self.work / "signing-config.json"
        self.signing_config.write_text(json.dumps(signing_config, indent=2))
        self.trust_config = self.work / "trust-config.json"
        self.trust_config.write_text(
            json.dumps(
                {
                    "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
                    "trustedRoot": trusted_root,
                    "signingConfig": signing_config,
                },
                indent=2,
            )
        )
        return self

    def stop(self) -> None:
        # Clients before what they use: PostgreSQL last. Trillian's servers sleep 5 s after SIGTERM
        # on purpose; their state is thrown away, so they are killed.
        def runs(process: subprocess.Popen[bytes], program: str) -> bool:
            return any(str(arg).endswith(f"/{program}") for arg in process.args)  # type: ignore[union-attr]

        last = [process for process in self.processes if runs(process, "postgres")]
        for group in ([process for process in self.processes if process not in last], last):
            for process in group:
                if process.poll() is None:
                    if any(runs(process, name) for name in ("trillian_log_server", "trillian_log_signer")):
                        process.kill()
                    else:
                        process.terminate()
            for process in group:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        with contextlib.suppress(Exception):
            self.issuer.stop()
        if self._forwarder is not None:
            self._forwarder.stop()
        for forwarder in self._forwarders:
            forwarder.stop()
        for directory in self._cleanup:
            shutil.rmtree(directory, ignore_errors=True)


def default_bin() -> Path:
    return Path(os.environ.get("SIGSTACK_BIN") or Path.home() / ".cache" / "reprotasks-sigstack")


def stack_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigstoreStack]:
    """One instance per test session (per xdist worker); it fails, never skips, when it cannot start."""
    bin_dir = default_bin()
    missing = [name for name, rel in BINARIES.items() if not (bin_dir / rel).is_file()]
    if missing:
        raise RuntimeError(
            f"local Sigstore binaries missing in {bin_dir} ({', '.join(missing)}): run .ci/install-sigstack "
            f'{bin_dir} (or deselect these tests with -m "not sigstack")'
        )
    running = SigstoreStack(bin_dir=bin_dir, work=tmp_path_factory.mktemp("sigstack"))
    try:
        yield running.start()
    finally:
        running.stop()


def main() -> int:
    import argparse

    if len(sys.argv) == 4 and sys.argv[1] == "--namespace-forward":
        _serve_namespace(sys.argv[2], int(sys.argv[3]))
        return 0

    parser = argparse.ArgumentParser(description="Run a local Sigstore instance until Ctrl-C.")
    parser.add_argument("--bin", type=Path, required=True, help="directory .ci/install-sigstack filled")
    parser.add_argument("--work", type=Path, default=Path("sigstack-run"), help="state directory (default %(default)s)")
    parser.add_argument("--email", default="release@example.test", help="identity the printed token carries")
    args = parser.parse_args()
    stack = SigstoreStack(bin_dir=args.bin.resolve(), work=args.work.resolve()).start()
    try:
        print(f"trust config: {stack.trust_config}")
        print(f"issuer:       {stack.issuer.url}")
        print(f"identity:     {args.email}")
        print(f"token (10 min): {stack.issuer.token(args.email)}", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
