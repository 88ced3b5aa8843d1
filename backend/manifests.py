"""Deployment manifests: the templates in manifest/ filled in for one host.

Pure (no Flask, no click): `deployment(...)` checks and normalises what the operator gave,
`write(...)` runs every writer in WRITERS and puts the files in a directory. A writer is a
function from a Deployment to the files it produces, so another surface's descriptor (the Gmail
add-on's deployment file) is one more function appended to WRITERS.

Templates mark the deployment's values with {{NAME}} placeholders inside strings: XML text and
attribute values, JSON string values. Substituting inside the parsed document, never in the raw
text, means a value cannot break the markup however it is spelled, and a placeholder left over
or misspelled fails loudly instead of shipping.
"""
from __future__ import annotations

import io
import ipaddress
import json
import re
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "manifest"
ADDIN = REPO / "addin"       # the unified manifest's icon paths are relative to this folder

# Add-in ids are derived from the base URL in this namespace. Never change it: every existing
# deployment would get a new id, and Outlook would see a different add-in.
APP_ID_NAMESPACE = uuid.UUID("6b1f5a2e-3f0c-5b8e-9a57-2c0d8e4b7f31")
DEV_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
XML_SIZE_LIMIT = 256 * 1024  # Outlook rejects bigger XML manifests
MAILAPP_1_1 = "http://schemas.microsoft.com/office/mailappversionoverrides/1.1"

_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_VERSION = re.compile(r"^\d{1,5}(\.\d{1,5}){0,3}$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
                       r"(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_PATH = re.compile(r"^[A-Za-z0-9._~/-]*$")


class ManifestError(ValueError):
    """A deployment value is unusable; `field` names it (base_url, app_id, version, client_id)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Deployment:
    """One deployment's values, checked and normalised."""

    base_url: str            # scheme://host[:port][/path], no trailing slash
    origin: str              # scheme://host[:port]
    host: str                # host[:port], as in api://<host>/<client-id> and validDomains
    app_id: str              # the add-in's GUID (lower case)
    version: str             # four-part, for the XML manifest: 1.0.0.0
    client_id: str | None    # Entra application (client) id, or None: no SSO elements

    @property
    def semver(self) -> str:
        """Three-part version for the unified manifest (its format is n.n.n)."""
        return self.version.rsplit(".", 1)[0]

    def values(self) -> dict[str, str]:
        """Placeholder name -> value."""
        values = {"BASE_URL": self.base_url, "ORIGIN": self.origin, "HOST": self.host,
                  "APP_ID": self.app_id, "VERSION": self.version, "SEMVER": self.semver}
        if self.client_id:
            values["CLIENT_ID"] = self.client_id
        return values


@dataclass(frozen=True)
class Artifact:
    """A file a writer produces: its name inside the output directory and its bytes."""

    name: str
    content: bytes


Writer = Callable[[Deployment], list[Artifact]]


def deployment(base_url: str, *, client_id: str | None = None, app_id: str | None = None,
               version: str = "1.0.0.0") -> Deployment:
    """Check and normalise a deployment's values; raises ManifestError naming the bad one."""
    base, origin, host = normalise_base_url(base_url)
    if app_id is None:
        app_id = default_app_id(base)
    elif not _GUID.match(app_id.strip()):
        raise ManifestError("app_id", f"the add-in id must be a GUID, got {app_id!r}")
    if client_id is not None and not _GUID.match(client_id.strip()):
        raise ManifestError("client_id", "the client id must be the Entra application (client) "
                                         f"id, a GUID; got {client_id!r}")
    return Deployment(base_url=base, origin=origin, host=host, app_id=app_id.strip().lower(),
                      version=_four_part_version(version),
                      client_id=client_id.strip().lower() if client_id else None)


def normalise_base_url(raw: str) -> tuple[str, str, str]:
    """(base URL, origin, host) for an https URL, or http on localhost for development."""
    parts = urlsplit(raw.strip())
    scheme = parts.scheme.lower()
    try:
        hostname, port = parts.hostname, parts.port
    except ValueError:
        raise ManifestError("base_url", f"{raw!r} has an invalid port") from None
    if scheme not in ("https", "http") or not hostname:
        raise ManifestError("base_url", f"{raw!r} is not an absolute https:// URL")
    if scheme == "http" and hostname not in DEV_HOSTS:
        raise ManifestError("base_url", f"{raw!r} uses http://; Outlook loads add-ins only over "
                                        "https:// (http:// is accepted for localhost and "
                                        "127.0.0.1 during development)")
    if "@" in parts.netloc or "?" in raw or "#" in raw:
        raise ManifestError("base_url", f"{raw!r} must not contain credentials, a query or a "
                                        "fragment")
    if not _valid_host(hostname):
        raise ManifestError("base_url", f"{raw!r} does not name a valid host")
    path = parts.path.rstrip("/")
    if not _PATH.match(path):
        raise ManifestError("base_url", f"{raw!r} has characters in its path that a manifest "
                                        "URL cannot carry unescaped")
    host = f"[{hostname}]" if ":" in hostname else hostname
    if port is not None and port != {"https": 443, "http": 80}[scheme]:
        host = f"{host}:{port}"
    origin = f"{scheme}://{host}"
    return origin + path, origin, host


def default_app_id(base_url: str) -> str:
    """The add-in id for a base URL: the same URL always gives the same id."""
    return str(uuid.uuid5(APP_ID_NAMESPACE, base_url))


def _valid_host(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(hostname))


def _four_part_version(version: str) -> str:
    if not _VERSION.match(version.strip()):
        raise ManifestError("version", f"the version must look like 1.2.3 or 1.2.3.0, got "
                                       f"{version!r}")
    parts = [str(int(p)) for p in version.strip().split(".")]
    parts += ["0"] * (4 - len(parts))
    if parts[3] != "0":
        # The unified manifest only has three parts; two XML versions differing in the fourth
        # would look identical to it, and Outlook would not pick up the update.
        raise ManifestError("version", f"the fourth part of {version!r} must be 0: the unified "
                                       "manifest's version has three parts")
    return ".".join(parts)


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace {{NAME}} placeholders; an unknown name is an error, not left in place."""
    def replace(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise ValueError(f"template placeholder {match.group(0)} has no value")
        return values[match.group(1)]
    return _PLACEHOLDER.sub(replace, text)


def outlook_xml(dep: Deployment) -> list[Artifact]:
    """The XML add-in-only manifest: outlook.xml."""
    parser = etree.XMLParser(remove_comments=True, resolve_entities=False, no_network=True)
    tree = etree.parse(str(TEMPLATES / "outlook.xml"), parser)
    root = tree.getroot()
    if not dep.client_id:
        for element in root.iter(f"{{{MAILAPP_1_1}}}WebApplicationInfo"):
            _remove(element)
    values = dep.values()
    for element in root.iter(etree.Element):
        element.tail = _one_line_break(element.tail)
        if element.text:
            element.text = fill(_one_line_break(element.text), values)
        for name, value in element.attrib.items():
            element.set(name, fill(value, values))
    content = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
               b"<!-- Generated by `replywise manifest` from manifest/outlook.xml: edit that "
               b"template, not this file. -->\n"
               + etree.tostring(root, encoding="unicode").encode("utf-8") + b"\n")
    if len(content) >= XML_SIZE_LIMIT:
        raise ValueError(f"outlook.xml would be {len(content)} bytes; Outlook's limit is "
                         f"{XML_SIZE_LIMIT}")
    return [Artifact("outlook.xml", content)]


def _one_line_break(text: str | None) -> str | None:
    # Dropped comments leave blank lines behind; indentation-only text keeps its last line.
    if text and not text.strip() and text.count("\n") > 1:
        return text[text.rfind("\n"):]
    return text


def _remove(element: etree._Element) -> None:
    # Keep the surrounding indentation tidy: the removed element's tail becomes its
    # predecessor's (or its parent's text, when it was the first child).
    parent, previous = element.getparent(), element.getprevious()
    if previous is not None:
        previous.tail = element.tail
    else:
        parent.text = element.tail
    parent.remove(element)


def outlook_json_manifest(dep: Deployment) -> dict:
    """The unified manifest for Microsoft 365 as a dict."""
    data = json.loads((TEMPLATES / "outlook.json").read_text(encoding="utf-8"))
    if not dep.client_id:
        data.pop("webApplicationInfo", None)
    return _fill_json(data, dep.values())


def _fill_json(node, values: Mapping[str, str]):
    if isinstance(node, dict):
        return {key: _fill_json(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill_json(item, values) for item in node]
    return fill(node, values) if isinstance(node, str) else node


def outlook_json(dep: Deployment) -> list[Artifact]:
    """The unified manifest (outlook.json) and its app package (outlook-app.zip).

    Outlook and the admin center take the unified manifest as a zip: manifest.json at the root
    and the two icons it names, at the same relative paths.
    """
    data = outlook_json_manifest(dep)
    content = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        entries = [("manifest.json", content)]
        entries += [(path, (ADDIN / path).read_bytes())
                    for path in (data["icons"]["color"], data["icons"]["outline"])]
        for name, payload in entries:
            # A fixed timestamp: the same deployment always produces the same package.
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, payload)
    return [Artifact("outlook.json", content), Artifact("outlook-app.zip", package.getvalue())]


def gmail_deployment(dep: Deployment) -> list[Artifact]:
    """The Google Workspace add-on deployment descriptor (gmail-deployment.json), every URL
    on the deployment's host: `gcloud workspace-add-ons deployments create NAME
    --deployment-file=gmail-deployment.json`."""
    data = json.loads((TEMPLATES / "gmail-deployment.json").read_text(encoding="utf-8"))
    content = json.dumps(_fill_json(data, dep.values()), indent=2, ensure_ascii=False) + "\n"
    return [Artifact("gmail-deployment.json", content.encode("utf-8"))]


# Every deployment file `replywise manifest` writes.
WRITERS: tuple[Writer, ...] = (outlook_xml, outlook_json, gmail_deployment)


def build(dep: Deployment, writers: tuple[Writer, ...] = WRITERS) -> list[Artifact]:
    """Run the writers; nothing touches the disk."""
    artifacts = [artifact for writer in writers for artifact in writer(dep)]
    names = [a.name for a in artifacts]
    if len(set(names)) != len(names):
        raise ValueError(f"two writers produce the same file: {sorted(names)}")
    return artifacts


def write(dep: Deployment, out_dir: Path, writers: tuple[Writer, ...] = WRITERS) -> list[Path]:
    """Build every artifact first, then write them into out_dir (created if missing)."""
    artifacts = build(dep, writers)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for artifact in artifacts:
        path = out_dir / artifact.name
        path.write_bytes(artifact.content)
        paths.append(path)
    return paths
