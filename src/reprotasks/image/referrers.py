"""The OCI 1.1 referrers API: the artifacts (signatures, attestations) that name an image as subject.

crane has no referrers command, so this is the one registry request reprotasks makes itself:
``GET /v2/<repository>/referrers/<digest>``, anonymously or with the basic credentials
``~/.docker/config.json`` (``DOCKER_CONFIG``) holds for the registry, through the registry's
bearer-token challenge. A registry without the API answers 404 and ``None`` is returned: the
caller then reads the ``sha256-<hex>`` fallback index (with crane, which knows every credential
helper). Loopback registries are spoken to over plain HTTP, as crane and cosign do.
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

INDEX = "application/vnd.oci.image.index.v1+json"
_LOOPBACK = re.compile(r"^(localhost|127(\.\d+){3}|\[::1\])(:\d+)?$")
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
_TIMEOUT = 30
_MAX_INDEX = 4 << 20


class ReferrersError(Exception):
    """The registry answered the referrers API with something that is not a referrers index."""


def split_repository(repository: str) -> tuple[str, str]:
    """(registry host, repository path) as Docker names them: ``worker`` is docker.io/library/worker."""
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = "docker.io", repository
    if host == "docker.io":
        host = "registry-1.docker.io"
        path = path if "/" in path else f"library/{path}"
    return host, path


def list_referrers(repository: str, digest: str, artifact_type: str) -> list[dict[str, Any]] | None:
    """The descriptors of ``digest``'s referrers (asked for those of ``artifact_type``); None when the
    registry has no referrers API (or cannot be asked without credentials it does not accept)."""
    host, path = split_repository(repository)
    scheme = "http" if _LOOPBACK.match(host) else "https"
    query = urllib.parse.urlencode({"artifactType": artifact_type})
    url = f"{scheme}://{host}/v2/{path}/referrers/{digest}?{query}"
    try:
        status, body = _get(url, host, path)
    except (OSError, ValueError):
        return None
    if status != 200:
        return None  # 404: no API here; 401/403: not readable this way (the fallback tag is read with crane)
    try:
        document = json.loads(body)
        manifests = document["manifests"]
        if not isinstance(manifests, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise ReferrersError(f"{host}/{path}: the referrers API did not answer with an image index") from None
    # The filter is a hint: a registry may ignore it, or (go-containerregistry's) report the config's
    # media type as artifactType. The caller picks its referrers from what they say they hold.
    return [item for item in manifests if isinstance(item, dict)]


def _get(url: str, host: str, path: str) -> tuple[int, bytes]:
    request = _request(url, {"Accept": INDEX})
    try:
        return _read(request)
    except urllib.error.HTTPError as error:
        challenge = error.headers.get("WWW-Authenticate", "")
        if error.code != 401 or not challenge.lower().startswith("bearer "):
            return error.code, b""
    token = _token(challenge, host, path)
    if token is None:
        return 401, b""
    request = _request(url, {"Accept": INDEX, "Authorization": f"Bearer {token}"})
    try:
        return _read(request)
    except urllib.error.HTTPError as error:
        return error.code, b""


def _request(url: str, headers: dict[str, str]) -> urllib.request.Request:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url}")
    return urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s) only, checked above


def _read(request: urllib.request.Request) -> tuple[int, bytes]:
    with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310 - http(s) only
        return int(response.status), response.read(_MAX_INDEX)


def _token(challenge: str, host: str, path: str) -> str | None:
    """A pull token from the challenge's realm: anonymous, or with the docker config's basic auth."""
    fields = dict(_CHALLENGE.findall(challenge))
    realm = fields.get("realm", "")
    if not realm.startswith("https://") and not (realm.startswith("http://") and _LOOPBACK.match(host)):
        return None
    query = {"scope": f"repository:{path}:pull", **({"service": fields["service"]} if "service" in fields else {})}
    headers = {}
    basic = _basic_auth(host)
    if basic is not None:
        headers["Authorization"] = f"Basic {basic}"
    request = _request(f"{realm}?{urllib.parse.urlencode(query)}", headers)
    try:
        status, body = _read(request)
        document = json.loads(body) if status == 200 else {}
    except (OSError, ValueError):
        return None
    token = document.get("token") or document.get("access_token")
    return token if isinstance(token, str) else None


def _basic_auth(host: str) -> str | None:
    """The base64 ``user:password`` ``~/.docker/config.json`` keeps for ``host`` (not credential helpers)."""
    directory = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        auths = json.loads((directory / "config.json").read_text(encoding="utf-8")).get("auths") or {}
    except (OSError, ValueError, AttributeError):
        return None
    names = {host, f"https://{host}", "https://index.docker.io/v1/" if host == "registry-1.docker.io" else host}
    for name in names:
        entry = auths.get(name)
        if isinstance(entry, dict) and isinstance(entry.get("auth"), str):
            try:
                base64.b64decode(entry["auth"], validate=True)
            except ValueError:
                return None
            return str(entry["auth"])
    return None
