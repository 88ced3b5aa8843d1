"""The Outlook manifests `replywise manifest` writes: valid, pointing at one host, stable ids.

The schemas are not in this repository: they sit in ../shared/schemas beside the clone (CI checks
the repository out next to a copy of shared/ the same way). Without them these tests fail.
"""
from __future__ import annotations

import copy
import importlib.machinery
import importlib.util
import io
import json
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from lxml import etree
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT4

from backend import manifests
from backend.cli import cli

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / ".." / "shared" / "schemas"
ASSETS = REPO / "addin" / "assets"

OFFICE = "http://schemas.microsoft.com/office/appforoffice/1.1"
BT = "http://schemas.microsoft.com/office/officeappbasictypes/1.0"
MAIL_1_0 = "http://schemas.microsoft.com/office/mailappversionoverrides"
MAIL_1_1 = "http://schemas.microsoft.com/office/mailappversionoverrides/1.1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSI_TYPE = f"{{{XSI}}}type"
NS = {"o": OFFICE, "bt": BT, "v0": MAIL_1_0, "v1": MAIL_1_1, "xsi": XSI}

# Elements Microsoft documents for mail VersionOverrides 1.1 that the shared (2020) schemas
# predate, with the parent each belongs to. They are checked by the tests below instead; any
# other element the schemas do not know still fails validation.
NEWER_THAN_SCHEMA = {
    f"{{{MAIL_1_1}}}SupportsPinning": f"{{{MAIL_1_1}}}Action",
    f"{{{MAIL_1_1}}}MobileFormFactor": f"{{{MAIL_1_1}}}Host",
    f"{{{MAIL_1_1}}}WebApplicationInfo": f"{{{MAIL_1_1}}}VersionOverrides",
}

CLIENT_ID = "3f6c1a9e-8d2b-4c7e-9a01-5b2d7e4f6a10"
BASE_URLS = ("https://replywise.example.com", "https://localhost:8443",
             "https://mail.example.org/tools/replywise")
CASES = [(url, client) for url in BASE_URLS for client in (None, CLIENT_ID)]


# --- schemas (compiled once per session; missing schemas fail, they never skip) ---------------

def _require(path: Path) -> Path:
    if not path.is_file():
        pytest.fail(f"manifest schema {path.resolve()} is missing: the repository must sit beside "
                    "a copy of shared/ (../shared/schemas)")
    return path


@pytest.fixture(scope="session")
def office_xml_schema() -> etree.XMLSchema:
    path = _require(SCHEMAS / "office-xml" / "OfficeAppManifestV1_1.xsd")
    return etree.XMLSchema(etree.parse(str(path)))


def _offline(uri: str):
    raise NoSuchResource(ref=uri)  # validation must never reach the network


@pytest.fixture(scope="session")
def unified_validator():
    cache: dict[str, jsonschema.Draft4Validator] = {}

    def validator_for(version: str) -> jsonschema.Draft4Validator:
        if version not in cache:
            path = _require(SCHEMAS / "office-json" / f"v{version}" / "MicrosoftTeams.schema.json")
            schema = json.loads(path.read_text(encoding="utf-8"))
            jsonschema.Draft4Validator.check_schema(schema)
            registry = Registry(retrieve=_offline).with_resource(
                _public_schema_url(version),
                Resource.from_contents(schema, default_specification=DRAFT4))
            cache[version] = jsonschema.Draft4Validator(schema, registry=registry)
        return cache[version]

    return validator_for


def _public_schema_url(version: str) -> str:
    return ("https://developer.microsoft.com/json-schemas/teams/"
            f"v{version}/MicrosoftTeams.schema.json")


# --- generating ------------------------------------------------------------------------------

@dataclass
class Generated:
    dep: manifests.Deployment
    xml_bytes: bytes
    xml: etree._Element
    json_bytes: bytes
    manifest: dict
    package: zipfile.ZipFile


def _generate(out: Path, base_url: str, client_id: str | None = None) -> Generated:
    dep = manifests.deployment(base_url, client_id=client_id)
    manifests.write(dep, out)
    xml_bytes, json_bytes = (out / "outlook.xml").read_bytes(), (out / "outlook.json").read_bytes()
    return Generated(dep, xml_bytes, etree.fromstring(xml_bytes), json_bytes,
                     json.loads(json_bytes), zipfile.ZipFile(out / "outlook-app.zip"))


@pytest.fixture(params=CASES, ids=[f"{u.split('//')[1]}-{'sso' if c else 'nosso'}"
                                   for u, c in CASES])
def generated(request, tmp_path) -> Generated:
    result = _generate(tmp_path, *request.param)
    yield result
    result.package.close()


# --- PNG -------------------------------------------------------------------------------------

def _png_chunks(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos = 8
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        yield kind, data[pos + 8:pos + 8 + length]
        pos += 12 + length


def png_size(data: bytes) -> tuple[int, int]:
    kind, header = next(_png_chunks(data))
    assert kind == b"IHDR"
    return struct.unpack(">II", header[:8])


def png_rgba(data: bytes) -> list[bytes]:
    """Rows of RGBA bytes of an 8-bit RGBA PNG, any filter."""
    chunks = list(_png_chunks(data))
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    assert (depth, colour) == (8, 6), "expected 8-bit RGBA"
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride, rows, previous = width * 4, [], bytearray(width * 4)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - 4] if i >= 4 else 0
            up, up_left = previous[i], (previous[i - 4] if i >= 4 else 0)
            line[i] = (line[i] + _predict(kind, left, up, up_left)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return rows


def _predict(kind: int, left: int, up: int, up_left: int) -> int:
    if kind in (0, 1, 2, 3):
        return (0, left, up, (left + up) // 2)[kind]
    estimate = left + up - up_left  # Paeth: the neighbour closest to the estimate, in this order
    return min((left, up, up_left), key=lambda v: abs(estimate - v))


def _asset(url: str, base_url: str) -> Path:
    prefix = f"{base_url}/addin/assets/"
    assert url.startswith(prefix), f"{url} is not one of this deployment's assets"
    return ASSETS / url[len(prefix):]


# --- XML helpers -----------------------------------------------------------------------------

def _schema_checkable(root: etree._Element) -> etree._Element:
    """A copy without the elements the shared schemas predate (each in its documented parent)."""
    root = copy.deepcopy(root)
    for tag, parent_tag in NEWER_THAN_SCHEMA.items():
        for element in list(root.iter(tag)):
            assert element.getparent().tag == parent_tag, f"{tag} outside {parent_tag}"
            element.getparent().remove(element)
    return root


def _overrides(root: etree._Element) -> list[etree._Element]:
    """VersionOverrides 1.0 (a copy, without the 1.1 nested in it) and 1.1."""
    v0 = copy.deepcopy(root.find("v0:VersionOverrides", NS))
    v0.remove(v0.find("v1:VersionOverrides", NS))
    return [v0, root.find("v0:VersionOverrides/v1:VersionOverrides", NS)]


def _resources(overrides: etree._Element) -> dict[str, str]:
    return {e.get("id"): e.get("DefaultValue")
            for e in overrides.find(f"{{{overrides.nsmap[None]}}}Resources").iter(f"{{{BT}}}*")
            if e.get("id")}


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


# --- the XML manifest ------------------------------------------------------------------------

def test_xml_manifest_validates_against_the_office_schema(generated, office_xml_schema):
    office_xml_schema.assertValid(_schema_checkable(generated.xml))


def test_xml_elements_newer_than_the_schema_sit_where_outlook_expects_them(generated):
    v1 = _overrides(generated.xml)[1]
    host = v1.find("v1:Hosts/v1:Host", NS)
    assert [_local(c) for c in host] == ["DesktopFormFactor", "MobileFormFactor"]
    read = host.find("v1:DesktopFormFactor/v1:ExtensionPoint[@xsi:type="
                     "'MessageReadCommandSurface']//v1:Action", NS)
    assert [(_local(c), c.text) for c in read] == [("SourceLocation", None),
                                                 ("SupportsPinning", "true")]
    info = v1.find("v1:WebApplicationInfo", NS)
    if generated.dep.client_id:
        assert v1[-1] is info, "WebApplicationInfo must be the last child of VersionOverrides"
        assert [_local(c) for c in info] == ["Id", "Resource", "Scopes"]
        assert info.findtext("v1:Id", namespaces=NS) == CLIENT_ID
        assert (info.findtext("v1:Resource", namespaces=NS)
                == f"api://{generated.dep.host}/{CLIENT_ID}")
        assert [s.text for s in info.find("v1:Scopes", NS)] == ["openid", "profile"]
    else:
        assert info is None and b"WebApplicationInfo" not in generated.xml_bytes


def test_mobile_offers_draft_reply_on_the_read_surface_with_the_nine_required_icons(generated):
    v1 = _overrides(generated.xml)[1]
    mobile = v1.find("v1:Hosts/v1:Host/v1:MobileFormFactor", NS)
    assert [_local(c) for c in mobile] == ["FunctionFile", "ExtensionPoint"]
    point = mobile.find("v1:ExtensionPoint", NS)
    assert point.get(XSI_TYPE) == "MobileMessageReadCommandSurface"
    assert [_local(c) for c in point] == ["Group"]
    control = point.find("v1:Group/v1:Control", NS)
    assert control.get(XSI_TYPE) == "MobileButton"
    assert [_local(c) for c in control] == ["Label", "Icon", "Action"]
    strings = _resources(v1)
    assert strings[control.find("v1:Label", NS).get("resid")] == "Draft reply"
    icon = control.find("v1:Icon", NS)
    assert icon.get(XSI_TYPE) == "bt:MobileIconList"
    assert sorted((int(i.get("size")), int(i.get("scale"))) for i in icon) == [
        (size, scale) for size in (25, 32, 48) for scale in (1, 2, 3)]


def test_every_resource_reference_resolves_within_its_version_overrides(generated):
    for overrides in _overrides(generated.xml):
        resources = _resources(overrides)
        assert all(len(rid) <= 32 for rid in resources)
        for element in overrides.iter():
            if element.get("resid") and element.getparent() is not None:
                assert element.get("resid") in resources, element.get("resid")


@pytest.mark.parametrize("surface", ["MessageReadCommandSurface", "MessageComposeCommandSurface"])
def test_read_and_compose_surfaces_each_open_the_taskpane_from_a_draft_reply_button(generated,
                                                                                     surface):
    for overrides in _overrides(generated.xml):
        ns = overrides.nsmap[None]
        resources = _resources(overrides)
        points = [p for p in overrides.iter(f"{{{ns}}}ExtensionPoint")
                  if p.get(XSI_TYPE) == surface]
        assert len(points) == 1
        buttons = [c for c in points[0].iter(f"{{{ns}}}Control")
                   if resources[c.find(f"{{{ns}}}Label").get("resid")] == "Draft reply"]
        assert len(buttons) == 1
        action = buttons[0].find(f"{{{ns}}}Action")
        assert action.get(XSI_TYPE) == "ShowTaskpane"
        assert (resources[action.find(f"{{{ns}}}SourceLocation").get("resid")]
                == f"{generated.dep.base_url}/addin/taskpane.html")
        function_file = overrides.find(f"{{{ns}}}Hosts/{{{ns}}}Host/{{{ns}}}DesktopFormFactor/"
                                       f"{{{ns}}}FunctionFile")
        assert (resources[function_file.get("resid")]
                == f"{generated.dep.base_url}/addin/commands.html")


def test_xml_asks_for_read_write_item_and_mailbox_1_3(generated):
    root = generated.xml
    assert root.get(XSI_TYPE) == "MailApp"
    assert root.findtext("o:Permissions", namespaces=NS) == "ReadWriteItem"
    assert root.find("o:Requirements/o:Sets/o:Set", NS).attrib == {"Name": "Mailbox",
                                                                  "MinVersion": "1.3"}
    for overrides in _overrides(root):
        sets = overrides.find(f"{{{overrides.nsmap[None]}}}Requirements/{{{BT}}}Sets")
        assert sets.get("DefaultMinVersion") == "1.3"
        assert [s.get("Name") for s in sets] == ["Mailbox"]


def test_xml_manifest_stays_under_outlooks_256_kb_limit(generated):
    assert len(generated.xml_bytes) < 256 * 1024


# --- the unified (JSON) manifest -------------------------------------------------------------

def test_unified_manifest_validates_against_the_schema_of_its_manifest_version(
        generated, unified_validator):
    version = generated.manifest["manifestVersion"]
    assert generated.manifest["$schema"] == _public_schema_url(version)
    errors = sorted(unified_validator(version).iter_errors(generated.manifest), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_unified_manifest_offers_draft_reply_when_reading_and_composing(generated):
    extension = generated.manifest["extensions"][0]
    assert extension["requirements"] == {"scopes": ["mail"], "capabilities": [
        {"name": "Mailbox", "minVersion": "1.3"}]}
    actions = {action["id"]: (runtime, action) for runtime in extension["runtimes"]
               for action in runtime["actions"]}
    for context in ("mailRead", "mailCompose"):
        controls = [control for ribbon in extension["ribbons"] if context in ribbon["contexts"]
                    for tab in ribbon["tabs"] for group in tab["groups"]
                    for control in group["controls"] if control["label"] == "Draft reply"]
        assert len(controls) == 1, context
        runtime, action = actions[controls[0]["actionId"]]
        assert action["type"] == "openPage"
        assert runtime["code"]["page"] == f"{generated.dep.base_url}/addin/taskpane.html"


def test_unified_manifest_asks_for_mailbox_item_read_write(generated):
    assert generated.manifest["authorization"]["permissions"]["resourceSpecific"] == [
        {"name": "MailboxItem.ReadWrite.User", "type": "Delegated"}]


def test_unified_manifest_names_the_entra_app_only_when_given_a_client_id(generated):
    info = generated.manifest.get("webApplicationInfo")
    if generated.dep.client_id:
        assert info == {"id": CLIENT_ID, "resource": f"api://{generated.dep.host}/{CLIENT_ID}"}
    else:
        assert info is None


def test_app_package_holds_the_unified_manifest_and_its_two_icons(generated):
    icons = generated.manifest["icons"]
    assert sorted(generated.package.namelist()) == sorted(
        ["manifest.json", icons["color"], icons["outline"]])
    assert generated.package.read("manifest.json") == generated.json_bytes
    for path in (icons["color"], icons["outline"]):
        assert generated.package.read(path) == (REPO / "addin" / path).read_bytes()


# --- both manifests --------------------------------------------------------------------------

def _xml_strings(root: etree._Element):
    for element in root.iter(etree.Element):
        if element.text and element.text.strip():
            yield element, element.text.strip()
        for value in element.attrib.values():
            yield element, value


def _json_strings(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _json_strings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _json_strings(value, (*path, index))
    elif isinstance(node, str):
        yield path, node


_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def test_every_url_points_at_the_deployment_host(generated):
    dep, urls = generated.dep, 0
    for element, value in _xml_strings(generated.xml):
        if not _URL.match(value):
            continue
        urls += 1
        if _local(element) == "AppDomain":
            assert value == dep.origin
        elif _local(element) == "Resource":
            assert value == f"api://{dep.host}/{dep.client_id}"
        else:
            assert value.startswith(f"{dep.base_url}/"), value
    for path, value in _json_strings(generated.manifest):
        if not _URL.match(value) or path == ("$schema",):
            continue
        urls += 1
        if path == ("webApplicationInfo", "resource"):
            assert value == f"api://{dep.host}/{dep.client_id}"
        else:
            assert value.startswith(f"{dep.base_url}/"), (path, value)
    assert generated.manifest["validDomains"] == [dep.host]
    assert urls > 20
    assert b"{{" not in generated.xml_bytes and b"{{" not in generated.json_bytes


def test_every_icon_is_a_committed_png_of_the_declared_size(generated):
    base, checked = generated.dep.base_url, set()

    def check(url_or_path: Path | str, pixels: int) -> None:
        path = url_or_path if isinstance(url_or_path, Path) else _asset(url_or_path, base)
        assert path.is_file(), f"{path} is missing"
        assert png_size(path.read_bytes()) == (pixels, pixels), path.name
        checked.add(pixels)

    root = generated.xml
    check(root.find("o:IconUrl", NS).get("DefaultValue"), 64)
    check(root.find("o:HighResolutionIconUrl", NS).get("DefaultValue"), 128)
    for overrides in _overrides(root):
        resources = _resources(overrides)
        for image in overrides.iter(f"{{{BT}}}Image"):
            if image.get("resid"):  # a reference inside an Icon, not the resource itself
                check(resources[image.get("resid")], int(image.get("size")))
    for path, value in _json_strings(generated.manifest):
        if path[-1] != "url" or "/assets/" not in value:
            continue
        parent = generated.manifest
        for key in path[:-1]:
            parent = parent[key]
        # alternateIcons: the size field is ignored; the files must be 64 and 128 px (mail).
        expected = {"icon": 64, "highResolutionIcon": 128}.get(path[-2], parent["size"])
        check(value, expected)
    icons = generated.manifest["icons"]
    check(REPO / "addin" / icons["color"], 192)
    check(REPO / "addin" / icons["outline"], 32)
    assert {16, 25, 32, 48, 64, 80, 128, 192} <= checked


def test_ids_and_versions_agree_between_the_two_manifests(generated):
    assert generated.xml.findtext("o:Id", namespaces=NS) == generated.manifest["id"]
    assert generated.xml.findtext("o:Version", namespaces=NS) == "1.0.0.0"
    assert generated.manifest["version"] == "1.0.0"


# --- icons -----------------------------------------------------------------------------------

def _make_icons_script():
    loader = importlib.machinery.SourceFileLoader("make_icons",
                                                  str(REPO / "scripts" / "make-icons"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("make_icons", loader))
    loader.exec_module(module)
    return module


def test_committed_icons_are_exactly_what_make_icons_draws():
    drawn = _make_icons_script().icons()
    assert set(drawn) <= {p.name for p in ASSETS.glob("*.png")}
    for name, data in drawn.items():
        assert (ASSETS / name).read_bytes() == data, f"{name}: run scripts/make-icons"


def test_outline_icon_is_white_on_a_transparent_background():
    pixels = [row[i:i + 4] for row in png_rgba((ASSETS / "outline-32.png").read_bytes())
              for i in range(0, len(row), 4)]
    assert any(p[3] == 0 for p in pixels) and any(p[3] == 255 for p in pixels)
    assert all(p[:3] == b"\xff\xff\xff" for p in pixels if p[3])


def test_colour_icon_uses_the_brand_blue_on_a_transparent_background():
    pixels = [row[i:i + 4] for row in png_rgba((ASSETS / "icon-192.png").read_bytes())
              for i in range(0, len(row), 4)]
    assert pixels[0][3] == 0
    assert sum(p == b"\x0f\x6c\xbd\xff" for p in pixels) > 192 * 192 // 4


# --- deployment values -----------------------------------------------------------------------

def test_app_id_is_stable_for_a_host_and_differs_between_hosts(tmp_path):
    first = _generate(tmp_path / "a", "https://replywise.example.com")
    again = _generate(tmp_path / "b", "https://Replywise.Example.com:443/")
    other = _generate(tmp_path / "c", "https://replywise.example.net")
    assert first.manifest["id"] == again.manifest["id"] == first.dep.app_id
    assert first.xml_bytes == again.xml_bytes and first.json_bytes == again.json_bytes
    assert other.manifest["id"] != first.manifest["id"]
    assert manifests.deployment("https://localhost:8443").app_id != manifests.deployment(
        "https://localhost:9443").app_id
    for result in (first, again, other):
        result.package.close()


def test_app_id_can_be_overridden():
    dep = manifests.deployment("https://replywise.example.com",
                               app_id="AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE")
    assert dep.app_id == "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


@pytest.mark.parametrize("url", ["http://replywise.example.com", "ftp://replywise.example.com",
                                 "replywise.example.com", "https://",
                                 "https://user:pw@host.example",
                                 "https://host.example/?a=1", "https://host.example/#x",
                                 "https://host.example:99999", "https://bad_host.example",
                                 "https://host.example/a b"])
def test_unusable_base_urls_are_refused(url):
    with pytest.raises(manifests.ManifestError) as refused:
        manifests.deployment(url)
    assert refused.value.field == "base_url"


@pytest.mark.parametrize("url", ["http://localhost:8000", "http://127.0.0.1:8000/"])
def test_plain_http_is_accepted_on_loopback_for_development(url):
    assert manifests.deployment(url).base_url == url.rstrip("/")


@pytest.mark.parametrize(("given", "xml", "json_"), [("1.2.3", "1.2.3.0", "1.2.3"),
                                                    ("2", "2.0.0.0", "2.0.0"),
                                                    ("01.2.3.0", "1.2.3.0", "1.2.3")])
def test_version_becomes_four_parts_for_xml_and_three_for_json(given, xml, json_):
    dep = manifests.deployment("https://replywise.example.com", version=given)
    assert (dep.version, dep.semver) == (xml, json_)


@pytest.mark.parametrize(("field", "kwargs"), [
    ("version", {"version": "1.2.3.4"}), ("version", {"version": "v1"}),
    ("client_id", {"client_id": "not-a-guid"}), ("app_id", {"app_id": "123"})])
def test_malformed_ids_and_versions_are_refused(field, kwargs):
    with pytest.raises(manifests.ManifestError) as refused:
        manifests.deployment("https://replywise.example.com", **kwargs)
    assert refused.value.field == field


def test_a_placeholder_without_a_value_fails_instead_of_shipping():
    with pytest.raises(ValueError, match="CLIENT_ID"):
        manifests.fill("api://host/{{CLIENT_ID}}", {"HOST": "host"})


def test_another_writer_adds_its_file_beside_the_outlook_manifests(tmp_path):
    def gmail(dep: manifests.Deployment) -> list[manifests.Artifact]:
        return [manifests.Artifact("gmail.json", dep.base_url.encode())]

    dep = manifests.deployment("https://replywise.example.com")
    paths = manifests.write(dep, tmp_path, writers=(manifests.outlook_xml, manifests.outlook_json,
                                                    gmail))
    assert sorted(p.name for p in paths) == ["gmail.json", "outlook-app.zip", "outlook.json",
                                            "outlook.xml"]
    assert (tmp_path / "gmail.json").read_text() == "https://replywise.example.com"
    with pytest.raises(ValueError, match="same file"):
        manifests.build(dep, writers=(gmail, gmail))


# --- the command -----------------------------------------------------------------------------

def test_manifest_command_writes_both_manifests_for_the_host(tmp_path):
    out = tmp_path / "build" / "manifest"
    result = CliRunner().invoke(cli, ["manifest", "--base-url", "https://replywise.example.com/",
                                      "--out", str(out), "--client-id", CLIENT_ID,
                                      "--version", "1.4.0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert {"outlook-app.zip", "outlook.json", "outlook.xml"} <= {p.name for p in out.iterdir()}
    root = etree.fromstring((out / "outlook.xml").read_bytes())
    expected_id = manifests.default_app_id("https://replywise.example.com")
    assert root.findtext("o:Id", namespaces=NS) == expected_id
    assert root.findtext("o:Version", namespaces=NS) == "1.4.0.0"
    assert json.loads((out / "outlook.json").read_text())["webApplicationInfo"]["id"] == CLIENT_ID
    assert expected_id in result.stderr


def test_manifest_command_refuses_plain_http_naming_base_url(tmp_path):
    result = CliRunner().invoke(cli, ["manifest", "--base-url", "http://replywise.example.com",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "--base-url" in result.output and "https://" in result.output
    assert not (tmp_path / "out").exists()


def test_manifest_command_warns_that_outlook_needs_https_on_loopback(tmp_path):
    result = CliRunner().invoke(cli, ["manifest", "--base-url", "http://localhost:8000",
                                      "--out", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0 and "warning" in result.stderr
    with zipfile.ZipFile(io.BytesIO((tmp_path / "outlook-app.zip").read_bytes())) as package:
        assert "manifest.json" in package.namelist()
