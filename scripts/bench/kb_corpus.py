"""A synthetic but realistic business-document corpus, written as compressed text PDFs.

Text statistics matter for a search benchmark more than prose quality: documents here have a
Zipf-distributed vocabulary (a few hundred everyday business words, a long tail of product,
project, place and part names), per-document topic words that recur in bursts, codes, prices
and dates, so posting lists have the lengths a real company's documents give. Deterministic for
a seed; one process per core.
"""
from __future__ import annotations

import itertools
import random
import zlib
from pathlib import Path

COMMON = """account agreement amount annual approval approved article assets audit balance bank
benefit billing budget business calendar cancellation capacity carrier certificate change
charge claim client code committee company compliance condition confidential contact contract
cost coverage credit currency customer data date deadline delivery department deposit
description discount dispatch document employee equipment escalation estimate expense export
facility fee finance freight guarantee holiday hours incident income insurance inventory invoice
item journal labour leave liability licence limit logistics maintenance manager margin meeting
member method notice obligation office onboarding order overtime owner package partner payment
payroll penalty pension period personnel policy premium price procedure process procurement
product project purchase quality quantity quarter rate rebate receipt record refund region
registration renewal report request requirement retention return revenue review risk salary
schedule security service shipment signature software staff standard statement storage supplier
support tax team template term territory ticket training transfer travel unit update vendor
version warehouse warranty workflow""".split()
VERBS = """applies covers includes requires excludes extends limits replaces defines sets
confirms lists describes governs allows""".split()
ADJ = """standard annual monthly minimum maximum eligible additional applicable current
previous regional internal external premium basic extended certified approved""".split()
FILLER = """the of and to for in on with by under within after before per each all any this
that is are be will may must shall not""".split()
WORDS_PER_PAGE = 600
REGIONS = ["North America", "EMEA", "APAC", "LATAM", "Nordics", "DACH", "Benelux", "Iberia"]
KINDS = ["Price List", "Service Level Agreement", "Master Services Agreement", "Product Manual",
         "Employee Handbook", "Travel and Expense Policy", "Security Policy", "Warranty Terms",
         "Onboarding Guide", "Board Minutes", "Supplier Code of Conduct", "Returns Procedure"]
_SYLL = ["al", "an", "ar", "bo", "ca", "da", "el", "en", "fi", "ga", "ho", "ir", "ka", "lo", "ma",
         "ne", "or", "pa", "qu", "ra", "si", "ta", "ul", "va", "we", "xo", "yl", "ze", "tr", "st",
         "vin", "mor", "del", "tek", "lux", "ion", "ova", "rin"]


def long_tail(count: int, seed: int = 7) -> list[str]:
    """`count` distinct invented words: product, project and place names."""
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(_SYLL) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class Writer:
    """Makes the text of documents; one instance per process (vocabulary built once)."""

    def __init__(self, seed: int, tail_size: int = 60_000):
        self.rng = random.Random(seed)
        self.tail = long_tail(tail_size)
        # Zipf weights for the tail (rank r gets 1/r), as cumulative weights computed once.
        self.tail_cum = list(itertools.accumulate(1.0 / (r + 1) for r in range(len(self.tail))))
        self.tail_set = frozenset(self.tail)

    def document(self, number: int, pages: int) -> tuple[str, list[str]]:
        """A document's title and the text of its pages."""
        rng = self.rng
        kind = KINDS[number % len(KINDS)]
        topic = rng.choices(self.tail, cum_weights=self.tail_cum, k=8) + rng.sample(self.tail, 24)
        product = topic[-1].capitalize()
        title = f"{product} {kind} {2019 + number % 7}"
        out = []
        for page in range(1, pages + 1):
            lines = [f"{title} - page {page}", f"Section {page}.{rng.randint(1, 9)} "
                     f"{rng.choice(COMMON).capitalize()} {rng.choice(COMMON)}"]
            words = 0
            while words < WORDS_PER_PAGE:
                sentence = self._sentence(topic, product)
                lines.append(sentence)
                words += sentence.count(" ") + 1
            out.append("\n".join(lines))
        return title, out

    def _sentence(self, topic: list[str], product: str) -> str:
        rng = self.rng
        parts = [rng.choice(FILLER).capitalize(), rng.choice(ADJ), rng.choice(COMMON)]
        for _ in range(rng.randint(8, 16)):
            roll = rng.random()
            if roll < 0.40:
                parts.append(rng.choice(FILLER))
            elif roll < 0.70:
                parts.append(rng.choice(COMMON))
            elif roll < 0.80:
                parts.append(rng.choice(topic))
            elif roll < 0.88:
                parts.append(rng.choices(self.tail, cum_weights=self.tail_cum)[0])
            elif roll < 0.92:
                parts.append(rng.choice(VERBS))
            elif roll < 0.95:
                parts.append(f"{rng.choice(['USD', 'EUR', 'GBP'])} {rng.randint(5, 90000):,}")
            elif roll < 0.97:
                parts.append(f"{rng.choice(['SKU', 'INV', 'PO', 'REF'])}-{rng.randint(1000, 99999)}")
            elif roll < 0.985:
                parts.append(f"{rng.randint(1, 28)} {rng.choice(['March', 'June', 'October'])} "
                             f"{rng.randint(2019, 2026)}")
            else:
                parts.append(rng.choice(REGIONS) if rng.random() < 0.5 else product)
        return " ".join(parts) + "."

    def email(self, topic_words: list[str]) -> str:
        """A customer email asking about some of a document's subjects."""
        rng = self.rng
        a, b = rng.sample(topic_words, 2)
        c, d = rng.sample(COMMON, 2)
        return (f"Hello,\n\nCould you confirm the {c} terms for the {a} {d}? We also need the "
                f"{rng.choice(COMMON)} details for {b} in {rng.choice(REGIONS)} before "
                f"{rng.randint(1, 28)} March.\n\nThanks,\nAlex")


def _escape(line: str) -> bytes:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode(
        "cp1252", "replace")


def _wrap(text: str, width: int = 100) -> list[str]:
    out: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            if len(line) + len(word) + 1 > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        out.append(line)
    return out


def pdf_bytes(pages: list[str], title: str = "") -> bytes:
    """A valid PDF: Helvetica text, Flate-compressed content streams, one per page."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                   b"/Encoding /WinAnsiEncoding >>")
    kids = []
    for text in pages:
        lines = _wrap(text)
        body = b"BT /F1 7 Tf 8.4 TL 36 770 Td " + b" T* ".join(
            b"(" + _escape(line) + b") Tj" for line in lines) + b" ET"
        stream = zlib.compress(body, 1)
        page_no = len(objects) + 1
        kids.append(f"{page_no} 0 R")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
                       f"<< /Font << /F1 3 0 R >> >> /Contents {page_no + 1} 0 R >>".encode())
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream)
                       + stream + b"\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    objects.append(b"<< /Title (" + _escape(title) + b") /Producer (replywise bench-kb) >>")
    chunks = [b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"]
    offsets, size = [], len(chunks[0])
    for number, body in enumerate(objects, start=1):
        offsets.append(size)
        piece = b"%d 0 obj\n" % number + body + b"\nendobj\n"
        chunks.append(piece)
        size += len(piece)
    xref = [b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)]
    xref += [b"%010d 00000 n \n" % o for o in offsets]
    chunks += xref
    chunks.append(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>"
                  f"\nstartxref\n{size}\n%%EOF\n".encode())
    return b"".join(chunks)


def write_files(out: Path, numbers: range, pages_of, seed: int) -> tuple[int, list[str]]:
    """Write documents `numbers` into `out`; return (pages written, sample emails)."""
    writer = Writer(seed)
    total, emails = 0, []
    for number in numbers:
        path = out / f"doc-{number:05d}.pdf"
        pages = pages_of(number)
        title, texts = writer.document(number, pages)
        if not path.exists():
            path.write_bytes(pdf_bytes(texts, title))
        total += pages
        if number % 25 == 0:
            topic_words = [w for w in " ".join(texts[:1]).split() if w in writer.tail_set]
            if len(topic_words) >= 2:
                emails.append(writer.email(topic_words))
    return total, emails
