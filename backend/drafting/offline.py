"""The offline drafter: a deterministic reply skeleton, with no network and no model.

It is the default when no LLM is configured and the last fallback of the provider chain, so it
must always answer, quickly and identically for the same input. It never acts on what the email
says: it only quotes the questions and requests it finds and leaves a placeholder for each
answer, so instructions planted in an email cannot steer it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from backend.drafting.model import DraftContext, DraftOptions, Length, Refinement, Tone

MAX_QUOTE_CHARS = 160
# A reply skeleton with more bullets than this stops being a help.
MAX_POINTS = 20


@dataclass(frozen=True)
class _Phrases:
    """One language's wording; tone-dependent parts are (formal, neutral, friendly, direct)."""

    greet: tuple[str, str, str, str]        # with "{name}"
    greet_anonymous: tuple[str, str, str, str]
    close: tuple[str, str, str, str]
    thanks_subject: str                     # with "{subject}", already quoted
    thanks: str
    intro: str
    regarding: str                          # with "{quote}" and "{answer}"
    quotes: tuple[str, str]
    answer: str
    reply: str
    name: str
    thanks_again: str
    offer: str
    courtesy: tuple[str, ...]


_TONE_INDEX = {Tone.FORMAL: 0, Tone.NEUTRAL: 1, Tone.FRIENDLY: 2, Tone.DIRECT: 3}

_PHRASES = {
    "en": _Phrases(
        greet=("Dear {name},", "Dear {name},", "Hi {name},", "Hello {name},"),
        greet_anonymous=("Dear Sir or Madam,", "Hello,", "Hi there,", "Hello,"),
        close=("Kind regards,", "Best regards,", "Cheers,", "Best,"),
        thanks_subject="Thank you for your email about {subject}.",
        thanks="Thank you for your email.", intro="Please find my answers below:",
        regarding="- Regarding {quote}: {answer}", quotes=("\"", "\""),
        answer="[your answer]", reply="[your reply]", name="[your name]",
        thanks_again="Thank you again for getting in touch.",
        offer="If you need anything else, please let me know.",
        courtesy=("Please do not hesitate to contact me if anything is unclear or if you need "
                  "further information.", "I look forward to hearing from you."),
    ),
    "fr": _Phrases(
        greet=("Bonjour {name},",) * 4,
        greet_anonymous=("Madame, Monsieur,", "Bonjour,", "Bonjour,", "Bonjour,"),
        close=("Salutations distinguées,", "Cordialement,", "À bientôt,", "Cordialement,"),
        thanks_subject="Merci pour votre message concernant {subject}.",
        thanks="Merci pour votre message.", intro="Voici mes réponses :",
        regarding="- Concernant {quote} : {answer}", quotes=("« ", " »"),
        answer="[votre réponse]", reply="[votre réponse]", name="[votre nom]",
        thanks_again="Merci encore pour votre message.",
        offer="Je reste à votre disposition pour toute question.",
        courtesy=("N'hésitez pas à me contacter si vous avez besoin de précisions.",
                  "Dans l'attente de votre retour, je vous souhaite une bonne journée."),
    ),
    "de": _Phrases(
        greet=("Guten Tag {name},", "Hallo {name},", "Hallo {name},", "Hallo {name},"),
        greet_anonymous=("Sehr geehrte Damen und Herren,", "Guten Tag,", "Hallo,", "Guten Tag,"),
        close=("Mit freundlichen Grüßen", "Viele Grüße", "Liebe Grüße", "Beste Grüße"),
        # German continues the greeting's sentence, hence the lower-case start.
        thanks_subject="vielen Dank für Ihre Nachricht zu {subject}.",
        thanks="vielen Dank für Ihre Nachricht.", intro="Hier sind meine Antworten:",
        regarding="- Zu {quote}: {answer}", quotes=("„", "“"),
        answer="[Ihre Antwort]", reply="[Ihre Antwort]", name="[Ihr Name]",
        thanks_again="Nochmals vielen Dank für Ihre Nachricht.",
        offer="Wenn Sie weitere Fragen haben, melden Sie sich gern.",
        courtesy=("Bei Rückfragen stehe ich Ihnen gern zur Verfügung.",
                  "Ich freue mich auf Ihre Rückmeldung."),
    ),
    "es": _Phrases(
        greet=("Buenos días, {name}:", "Hola, {name}:", "¡Hola, {name}!", "Hola, {name}:"),
        greet_anonymous=("Buenos días:", "Hola:", "¡Hola!", "Hola:"),
        close=("Atentamente,", "Saludos cordiales,", "Un saludo,", "Saludos,"),
        thanks_subject="Gracias por su mensaje sobre {subject}.",
        thanks="Gracias por su mensaje.", intro="A continuación, mis respuestas:",
        regarding="- Sobre {quote}: {answer}", quotes=("«", "»"),
        answer="[su respuesta]", reply="[su respuesta]", name="[su nombre]",
        thanks_again="Gracias de nuevo por su mensaje.",
        offer="Quedo a su disposición para cualquier otra consulta.",
        courtesy=("No dude en ponerse en contacto conmigo si necesita más información.",
                  "Quedo a la espera de sus noticias."),
    ),
    "it": _Phrases(
        greet=("Gentile {name},", "Buongiorno {name},", "Ciao {name},", "Buongiorno {name},"),
        greet_anonymous=("Buongiorno,", "Buongiorno,", "Ciao,", "Buongiorno,"),
        close=("Distinti saluti,", "Cordiali saluti,", "A presto,", "Saluti,"),
        thanks_subject="Grazie per il suo messaggio riguardo a {subject}.",
        thanks="Grazie per il suo messaggio.", intro="Di seguito le mie risposte:",
        regarding="- Riguardo a {quote}: {answer}", quotes=("«", "»"),
        answer="[la sua risposta]", reply="[la sua risposta]", name="[il suo nome]",
        thanks_again="Grazie ancora per il suo messaggio.",
        offer="Resto a disposizione per qualsiasi ulteriore chiarimento.",
        courtesy=("Non esiti a contattarmi se ha bisogno di ulteriori informazioni.",
                  "Resto in attesa di un suo riscontro."),
    ),
}

# Redaction placeholders ([PERSON_1], [EMAIL_2]) must never be split or altered.
_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*\]")
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "herr", "frau", "m",
                     "mme", "mlle", "sr", "sra", "srta", "sig", "sig.ra", "dott", "dott.ssa"})
_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|wg|tr|rv|sv|vs|antw|r)(?:\[\d+\])?\s*:\s*)+",
                             re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n[ \t]*\n")
_BULLET = re.compile(r"^(?:[-*•·]|\d{1,2}[.)])\s+")
_SPACES = re.compile(r"\s+")
# A sentence ends at . ! ? … (with closing quotes/brackets) before whitespace, or at CJK stops.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s|$)|[。！？]+")
_ABBREVIATIONS = frozenset({"e.g", "i.e", "etc", "vs", "approx", "no", "nr", "cf", "st", "jr",
                            "inc", "ltd", "co", "z.b", "bzw", "ca", "usw", "d.h", "u.a", "p.ex",
                            "ecc", "ref"} | _TITLES)
_QUESTION_END = re.compile(r"[?？][\"'”’»)\]]*$")
# Polite requests anywhere in a sentence; "please find attached" and friends are not requests.
_REQUEST_ANYWHERE = re.compile(
    r"\b(?:please(?!\s+(?:find|see|note|be\s+advised|disregard))|kindly|could\s+you|can\s+you"
    r"|would\s+you|will\s+you|let\s+(?:me|us)\s+know|I\s+need|we\s+need|I\s+would\s+appreciate"
    r"|I['’]d\s+appreciate|I\s+would\s+like\s+you|"
    r"pourriez-vous|pouvez-vous|pourrais-tu|peux-tu|veuillez(?!\s+trouver)|merci\s+de\s+(?!votre"
    r"|ton|ta|tes|vos|la\s|le\s|l['’]|ce\s|cette)|s['’]il\s+vous\s+pla[iî]t|j['’]ai\s+besoin"
    r"|nous\s+avons\s+besoin|tenez-moi|faites-moi\s+savoir|dites-moi|je\s+vous\s+prie\s+de|"
    r"bitte(?!\s+finden)|könnten\s+Sie|können\s+Sie|würden\s+Sie|könntest\s+du|kannst\s+du"
    r"|würdest\s+du|lassen\s+Sie\s+(?:mich|uns)\s+wissen|geben\s+Sie\s+(?:mir|uns)\s+Bescheid"
    r"|gib\s+(?:mir|uns)\s+Bescheid|ich\s+brauche|wir\s+brauchen|ich\s+benötige|wir\s+benötigen|"
    r"por\s+favor|le\s+agradecería|te\s+agradecería|le\s+ruego|avísame|avíseme|hágame\s+saber"
    r"|necesito|necesitamos|"
    r"per\s+favore|per\s+cortesia|cortesemente|mi\s+faccia\s+sapere|fammi\s+sapere"
    r"|ho\s+bisogno|abbiamo\s+bisogno|la\s+prego\s+di)\b",
    re.IGNORECASE,
)
# Modal verbs that only ask something when they open the sentence ("Puede enviarme ...").
_REQUEST_AT_START = re.compile(
    r"^[¿¡\"'«„]?\s*(?:podría|podrías|podrían|puede|puedes|pueden|potrebbe|potresti|può|puoi"
    r"|potreste|send|confirm|share|tell|call)\b",
    re.IGNORECASE,
)


def _lang(code: str | None) -> str:
    """The base language code ("fr-CA" -> "fr"), lower-cased."""
    return (code or "").strip().replace("_", "-").split("-")[0].lower()


def _phrases(context: DraftContext, options: DraftOptions) -> _Phrases:
    """The wording for the reply language, English when there is no template for it."""
    return _PHRASES.get(_lang(options.language or context.language), _PHRASES["en"])


def first_name(display_name: str) -> str:
    """The name to greet someone by: first given name, or a redaction placeholder kept whole."""
    name = _SPACES.sub(" ", display_name).strip().strip("\"'")
    if not name or "@" in name:
        return ""
    placeholder = _PLACEHOLDER.match(name)
    if placeholder:
        return placeholder.group(0)
    if "," in name:  # "Smith, Jane", as many directories list people
        last, _, given = name.partition(",")
        name = given.strip() or last.strip()
    words = [w.strip(".,;:()") for w in name.split(" ")]
    words = [w for w in words if w and w.lower() not in _TITLES]
    if not words or not any(ch.isalpha() for ch in words[0]):
        return ""
    first = words[0][:40]
    return first.capitalize() if first.isupper() and len(first) > 1 else first


def _trim(sentence: str, limit: int = MAX_QUOTE_CHARS) -> str:
    """One line of at most `limit` characters, cut at a word and never inside a placeholder."""
    sentence = _SPACES.sub(" ", sentence).strip()
    if len(sentence) <= limit:
        return sentence
    cut = sentence.rfind(" ", 0, limit)
    cut = cut if cut > limit // 2 else limit - 1
    head = sentence[:cut]
    opening = head.rfind("[")
    if opening > head.rfind("]"):
        head = head[:opening]
    return head.rstrip(" ,;:") + "…"


def _units(text: str) -> list[str]:
    """Paragraph text split into prose units and list items, hard-wrapped lines rejoined."""
    units: list[str] = []
    for block in _BLANK_LINES.split(text.replace("\r\n", "\n")):
        current: list[str] = []
        for raw in block.split("\n"):
            line = raw.strip()
            if not line or line.startswith(">"):
                continue
            bullet = _BULLET.match(line)
            # A long line without final punctuation was wrapped mid-sentence; join the next one.
            if current and (bullet or len(current[-1]) < 40 or current[-1][-1] in ".!?:;…。！？"):
                units.append(" ".join(current))
                current = []
            current.append(line[bullet.end():] if bullet else line)
        if current:
            units.append(" ".join(current))
    return units


def sentences(text: str) -> list[str]:
    """Split prose into sentences, without breaking at common abbreviations."""
    found: list[str] = []
    for unit in _units(text):
        start = 0
        for match in _SENTENCE_END.finditer(unit):
            if match.group(0) == ".":
                space = unit.rfind(" ", start, match.start())
                token = unit[space + 1 if space >= 0 else start:match.start()].lower()
                if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
                    continue
            piece = unit[start:match.end()].strip()
            if piece:
                found.append(piece)
            start = match.end()
        if unit[start:].strip():
            found.append(unit[start:].strip())
    return found


def questions_and_requests(text: str) -> tuple[str, ...]:
    """The sentences of `text` that ask something (questions and requests), in order."""
    points: list[str] = []
    seen: set[str] = set()
    for sentence in sentences(text):
        if sum(ch.isalnum() for ch in sentence) < 3:
            continue
        if (_QUESTION_END.search(sentence) or _REQUEST_ANYWHERE.search(sentence)
                or _REQUEST_AT_START.search(sentence)):
            key = sentence.casefold()
            if key not in seen:
                seen.add(key)
                points.append(sentence)
        if len(points) == MAX_POINTS:
            break
    return tuple(points)


def _greeting(context: DraftContext, phrases: _Phrases, tone: Tone) -> str:
    """The greeting line: by first name when there is one, neutral otherwise."""
    name = first_name(context.sender.name) if context.sender else ""
    index = _TONE_INDEX[tone]
    return phrases.greet[index].format(name=name) if name else phrases.greet_anonymous[index]


def _closing(context: DraftContext, phrases: _Phrases, tone: Tone) -> str:
    """The sign-off and the user's name (or a placeholder for it)."""
    name = _SPACES.sub(" ", context.user_name).strip() or phrases.name
    return f"{phrases.close[_TONE_INDEX[tone]]}\n{name}"


def offline_draft(context: DraftContext, options: DraftOptions) -> str:
    """A deterministic reply skeleton (or a refinement of `options.previous_draft`)."""
    phrases = _phrases(context, options)
    if options.refine is not None and (options.previous_draft or "").strip():
        return _refine(options.previous_draft or "", options.refine, context, phrases)

    paragraphs = [_greeting(context, phrases, options.tone)]
    if options.length is not Length.SHORT:
        subject = _trim(_SUBJECT_PREFIX.sub("", context.subject[:400]), 120)
        left, right = phrases.quotes
        paragraphs.append(phrases.thanks_subject.format(subject=f"{left}{subject}{right}")
                          if subject else phrases.thanks)
    points = questions_and_requests(context.latest)
    if points:
        left, right = phrases.quotes
        lines = [phrases.regarding.format(quote=f"{left}{_trim(p)}{right}", answer=phrases.answer)
                 for p in points]
        if options.length is not Length.SHORT:
            lines.insert(0, phrases.intro)
        paragraphs.append("\n".join(lines))
    else:
        paragraphs.append(phrases.reply)
    if context.sources:
        paragraphs.append(_relevant_facts(context, options))
    if options.length is Length.LONG:
        paragraphs.append(f"{phrases.thanks_again} {phrases.offer}")
    paragraphs.append(_closing(context, phrases, options.tone))
    return "\n\n".join(paragraphs)


_RELEVANT = {"en": "Relevant", "fr": "À noter", "de": "Relevant", "es": "Relevante",
             "it": "Da notare"}
_CONTENT_WORD = re.compile(r"[^\W\d_]{4,}")


def _relevant_facts(context: DraftContext, options: DraftOptions) -> str:
    """For each knowledge passage, its sentence sharing most words with the message, cited."""
    label = _RELEVANT.get(_lang(options.language or context.language), _RELEVANT["en"])
    asked = {w.casefold() for w in _CONTENT_WORD.findall(f"{context.subject} {context.latest}")}
    lines = []
    for source in context.sources:
        candidates = sentences(source.text) or [source.text]
        # Most words in common with the message; on a tie the longer sentence (a fact, not a
        # heading).
        best = max(candidates, key=lambda s: (len(asked & {w.casefold() for w in
                                                           _CONTENT_WORD.findall(s)}), len(s)))
        lines.append(f"- {label}: {_trim(best)} [{source.n}]")
    return "\n".join(lines)


# ---- refinement of an existing draft -------------------------------------------------------

_GREETING_LINE = re.compile(
    r"^¡?(?:dear|hi|hello|hey|good\s+(?:morning|afternoon|evening)|greetings|bonjour|bonsoir"
    r"|salut|cher|chère|madame|monsieur|hallo|guten\s+tag|liebe|lieber|sehr\s+geehrte"
    r"|hola|buenos\s+días|buenas|estimad[oa]s?|ciao|buongiorno|buonasera|gentile|salve)\b"
    # At most three words of name, so "Hello, I wanted to ..." is not taken for a greeting.
    r",?[ \t]*(?P<name>[^\s,:!]+(?:[ \t]+[^\s,:!]+){0,2})?[ \t]*[,:!]?$",
    re.IGNORECASE,
)
_CLOSING_LINE = re.compile(
    r"^(?:kind\s+regards|best\s+regards|warm\s+regards|regards|best\s+wishes|best|cheers"
    r"|thanks(?:\s+again)?|thank\s+you|many\s+thanks|all\s+the\s+best|(?:yours\s+)?sincerely"
    r"|yours\s+(?:faithfully|truly)|respectfully|(?:bien\s+)?cordialement|bien\s+à\s+vous"
    r"|salutations\s+distinguées|à\s+bientôt|mit\s+freundlichen\s+grüßen|(?:viele|liebe|beste"
    r"|freundliche)\s+grüße|atentamente|saludos(?:\s+cordiales)?|un\s+saludo|distinti\s+saluti"
    r"|cordiali\s+saluti|a\s+presto|saluti)[ \t]*[,.!]?$",
    re.IGNORECASE,
)
_CONTRACTION = re.compile(
    r"\b(?:(?P<neg_special>can|won|shan)['’]t|(?P<neg>\w+)n['’]t|(?P<i>I)['’]m"
    r"|(?P<s>it|that|there|what|here|who|he|she|let)['’]s"
    r"|(?P<stem>\w+)['’](?P<suffix>re|ve|ll|d))\b",
    re.IGNORECASE,
)
# What follows "Hi" without being anybody's name.
_NOT_NAMES = frozenset({"there", "all", "everyone", "everybody", "folks", "guys",
                        "sir or madam", "à tous", "zusammen", "a todos", "a tutti"})
_EXPANSIONS = {"can": "cannot", "won": "will not", "shan": "shall not",
               "re": "are", "ve": "have", "ll": "will", "d": "would"}


def _expand(match: re.Match[str]) -> str:
    """One contraction written out in full, keeping the capital of its first letter."""
    if match.group("neg_special"):
        word = match.group("neg_special")
        full = _EXPANSIONS[word.lower()]
        return full[0].upper() + full[1:] if word[0].isupper() else full
    if match.group("neg"):
        return f"{match.group('neg')} not"
    if match.group("i"):
        return "I am"
    if match.group("s"):
        word = match.group("s")
        return f"{word} us" if word.lower() == "let" else f"{word} is"
    return f"{match.group('stem')} {_EXPANSIONS[match.group('suffix').lower()]}"


def _split_draft(text: str) -> tuple[str | None, list[str], list[str]]:
    """A draft as (greeting line, body paragraphs, closing lines)."""
    paragraphs = [p.strip() for p in _BLANK_LINES.split(text.strip().replace("\r\n", "\n"))]
    paragraphs = [p for p in paragraphs if p]
    greeting = None
    if paragraphs and "\n" not in paragraphs[0] and _GREETING_LINE.match(paragraphs[0]):
        greeting = paragraphs.pop(0)
    closing: list[str] = []
    # The sign-off is a closing-phrase line among the last few lines, followed by a name.
    for index in range(len(paragraphs) - 1, max(-1, len(paragraphs) - 3), -1):
        lines = paragraphs[index].split("\n")
        for line_no in range(len(lines) - 1, max(-1, len(lines) - 4), -1):
            if _CLOSING_LINE.match(lines[line_no].strip()):
                before = "\n".join(lines[:line_no]).strip()
                closing = ["\n".join(lines[line_no:]), *paragraphs[index + 1:]]
                paragraphs = paragraphs[:index] + ([before] if before else [])
                return greeting, paragraphs, closing
    return greeting, paragraphs, closing


def _first_sentence(paragraph: str) -> str:
    """A paragraph cut to its first sentence; list items each keep their first sentence."""
    lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
    prose = " ".join(line for line in lines if not _BULLET.match(line))
    kept = [sentences(prose)[0]] if prose else []
    for line in lines:
        marker = _BULLET.match(line)
        if marker:
            parts = sentences(line[marker.end():])
            kept.append(marker.group(0) + (parts[0] if parts else line[marker.end():]))
    return "\n".join(kept)


def _refine(draft: str, refinement: Refinement, context: DraftContext, phrases: _Phrases) -> str:
    """Apply a deterministic shorter / longer / more-formal rewrite to a previous draft."""
    greeting, body, closing = _split_draft(draft)
    if refinement is Refinement.SHORTER:
        body = [_first_sentence(p) for p in body]
    elif refinement is Refinement.LONGER:
        extra = next((c for c in phrases.courtesy if c not in draft), None)
        if extra:
            body.append(extra)
    else:
        named = _GREETING_LINE.match(greeting) if greeting else None
        name = (named.group("name") or "").strip() if named else ""
        if name.lower() in _NOT_NAMES:
            name = ""
        if not name and context.sender:
            name = first_name(context.sender.name)
        index = _TONE_INDEX[Tone.FORMAL]
        greeting = (phrases.greet[index].format(name=name) if name
                    else phrases.greet_anonymous[index])
        if closing:
            lines = closing[0].split("\n")
            closing[0] = "\n".join([phrases.close[index], *lines[1:]])
        else:
            closing = [_closing(context, phrases, Tone.FORMAL)]
        if phrases is _PHRASES["en"]:
            body = [_CONTRACTION.sub(_expand, p) for p in body]
    return "\n\n".join(p for p in [greeting or "", *body, *closing] if p)
