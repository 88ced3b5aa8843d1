"""MIME details for mail.py: charsets, RFC 2047 headers and choosing the body part to read."""
from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from email.message import EmailMessage as MimeMessage

from backend.drafting.html_text import html_to_text

# Labels mapped to the supersets that mailers actually produce (the WHATWG Encoding Standard
# does the same): "iso-8859-1" text is really windows-1252 (curly quotes, euro sign), "gb2312"
# text uses GBK characters, "shift_jis" uses Microsoft's cp932 extensions.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "l1": "cp1252", "us-ascii": "", "ascii": "", "unknown-8bit": "", "x-unknown": "",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "euc-cn": "gb18030",
    "cp936": "gb18030", "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932",
    "x-sjis": "cp932", "ms_kanji": "cp932", "euc-kr": "cp949", "ks_c_5601-1987": "cp949",
    "big5": "cp950", "iso-8859-8-i": "iso-8859-8", "windows-874": "cp874",
}
# Codecs that are not charsets: a sender must not make us interpret escapes or punycode.
_REFUSED_CODECS = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode"})
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(=\?)")
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset=[\"']?([\w.:-]{1,40})", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def raw_headers(mime: MimeMessage) -> dict[str, str]:
    """First occurrence of each header, RFC 2047 decoded and 8-bit damage repaired."""
    headers: dict[str, str] = {}
    for name, value in mime.raw_items():
        key = name.lower()
        if key not in headers and isinstance(value, str):
            headers[key] = _decode_header(value)
    return headers


def _decode_header(value: str) -> str:
    if any("\udc80" <= char <= "\udcff" for char in value):
        # Raw 8-bit bytes in a header (common with sloppy mailers) arrive as surrogate escapes.
        value = decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    value = _SPACES.sub(" ", value)
    # Whitespace between two encoded words is folding, not text (RFC 2047 section 6.2).
    value = _BETWEEN_WORDS.sub(r"\1\2", value)
    return _ENCODED_WORD.sub(_decode_word, value)


def _decode_word(match: re.Match[str]) -> str:
    charset, kind, payload = match.group(1), match.group(2).upper(), match.group(3)
    charset = charset.split("*", 1)[0]  # RFC 2231 language suffix: =?utf-8*en?Q?...?=
    try:
        if kind == "B":
            data = base64.b64decode(payload + "=" * (-len(payload) % 4))
        else:
            data = quopri.decodestring(payload.encode("ascii"), header=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    return decode_bytes(data, charset)


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode mail bytes with a declared charset; unknown labels fall back to UTF-8 or cp1252."""
    label = (charset or "").strip().strip("\"'").lower()
    codec = _CHARSET_ALIASES.get(label, label)
    if codec:
        try:
            if codecs.lookup(codec).name not in _REFUSED_CODECS:
                return data.decode(codec, "replace")
        except (LookupError, UnicodeError, ValueError):
            pass
    # No usable label: valid UTF-8 is almost certainly UTF-8; anything else is most likely a
    # Western Windows code page, which maps every byte, so nothing raises.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def body_of(part: MimeMessage) -> str | None:
    """The readable text of a MIME part: HTML preferred, attachments and forwarded mail ignored."""
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        return None
    if part.is_multipart():
        children = [child for child in part.iter_parts() if isinstance(child, MimeMessage)]
        if ctype == "multipart/alternative":
            return _best_alternative(children)
        if ctype == "multipart/related":
            return body_of(children[0]) if children else None
        # multipart/mixed and unknown kinds: every inline text part, in order (Apple Mail splits
        # a body around inline images).
        texts = [text for child in children if not _is_attachment(child)
                 for text in [body_of(child)] if text and text.strip()]
        return "\n\n".join(texts) if texts else None
    if ctype.startswith("multipart/"):
        ctype = "text/plain"  # a multipart without a boundary: its payload is all there is
    if ctype not in ("text/plain", "text/html") or _is_attachment(part):
        return None
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return None
    charset = part.get_param("charset")
    charset = charset if isinstance(charset, str) else None
    if ctype == "text/html":
        if not charset:
            sniffed = _META_CHARSET.search(data[:4096])
            charset = sniffed.group(1).decode("ascii") if sniffed else None
        return html_to_text(decode_bytes(data, charset))
    text = decode_bytes(data, charset)
    if str(part.get_param("format") or "").lower() == "flowed":
        text = _unflow(text, str(part.get_param("delsp") or "").lower() == "yes")
    return text


def _best_alternative(children: list[MimeMessage]) -> str | None:
    # The richest version is the one the sender saw; plain text is the fallback when the HTML
    # turns out empty (image-only mail).
    ranked = sorted(children, key=lambda child: child.get_content_type() == "text/plain")
    for child in ranked:
        text = body_of(child)
        if text and text.strip():
            return text
    return None


def _is_attachment(part: MimeMessage) -> bool:
    if part.get_content_disposition() == "attachment":
        return True
    return part.get_content_type() == "message/rfc822" or bool(part.get_filename())


def _unflow(text: str, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed soft line breaks so wrapped lines are whole again."""
    out: list[str] = []
    carry: str | None = None
    carry_depth = 0
    for raw in text.replace("\r\n", "\n").split("\n"):
        depth = len(raw) - len(raw.lstrip(">"))
        content = raw[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        if carry is not None and depth != carry_depth:
            out.append(_quoted(carry_depth, carry))
            carry = None
        joined = (carry or "") + content
        if content.endswith(" ") and content.rstrip() != "--":
            carry, carry_depth = (joined[:-1] if delsp else joined), depth
            continue
        out.append(_quoted(depth, joined))
        carry = None
    if carry is not None:
        out.append(_quoted(carry_depth, carry))
    return "\n".join(out)


def _quoted(depth: int, text: str) -> str:
    return f"{'>' * depth} {text}" if depth else text
