"""Cheap, deterministic language identification for mail bodies (ISO 639-1 codes)."""
from __future__ import annotations

import re
from collections import Counter

# Hand-picked function words and mail vocabulary. A word shared by several languages ("de",
# "a", "in") is worth 1/n to each, so the distinctive words ("the", "und", "het", "não") decide.
# Small lists beat trigram models here: mail text is short, and a wrong guess is cheap (the user
# can pick the language), while a dependency or a 1 MB model is not.
_WORDS: dict[str, str] = {
    "en": """the and to of a in is it you that for on with as are this be at have not we i
        your will can please thanks thank would could if from my me our an or but by was all
        any do know let about just there they what when which also been has had should hope
        well regards best meeting attached hi hello dear next week time get see send need am
        us so up out some into only then than its how here were them these those who would
        sincerely cheers look forward let's don't i'm we're it's can't won't
        invoice advise questions got office until call tomorrow today yesterday morning
        afternoon i'll we'll you're monday tuesday wednesday thursday friday yes okay shall
        might soon""",
    "fr": """le la les de des du un une et est en que qui dans pour pas sur au aux avec ce
        cette ces il elle nous vous je ne se sont par plus mais ou on ont été être avoir bien
        merci bonjour votre vos notre nos mon ma mes leur très aussi tout tous fait faire peux
        pouvez pourriez suis avez cordialement madame monsieur semaine prochaine réunion
        demain si comme donc car déjà encore beaucoup bonne journée souhaite envoyer joint
        ai c'est j'ai n'est qu'il d'un d'une l'équipe aujourd'hui
        jointe pièce réception bientôt bon reçu remercie aide rappeler matin soir envoyé avons
        sommes êtes était sera serait peut doit veuillez trouver ci rendez rien chez sans sous
        après avant depuis quand alors toujours oui cela ça ici""",
    "de": """der die das und ist nicht ich sie es wir ihr ihnen den dem des ein eine einen
        einem einer zu mit von für auf im auch bitte danke vielen dank haben habe hat sind
        wird werden kann können könnten würde wie was wenn aber oder noch nur schon bei nach
        aus um über uns unser unsere ihre mein meine diese dieser sehr gerne gern hallo liebe
        lieber grüße freundlichen herr frau termin woche nächste morgen heute anbei sich dass
        als da hier mal doch gibt gruß viele beste
        bis bald schönes wochenende zahlung erhalten dokument anhang früh zurückrufen mich dich
        euch kein keine mehr jetzt dann immer weil durch ohne unter wieder ja nein gut geht
        machen wäre hätte möchte bin bist war waren""",
    "es": """el la los las de del y que en un una es por para con no se lo le les su sus al
        como más pero este esta estos esto ese esa muy ya también hay está están son ser fue
        puede puedes podemos nos mi mis tu tus usted ustedes gracias hola saludos estimado
        estimada reunión semana próxima mañana hoy adjunto favor sobre cuando donde porque si
        bien todo todos quedo atento atentamente cordial espero envío necesito me te yo
        estoy tengo tiene vamos hacer parece creo mucho mucha bueno buena después antes
        entonces aquí ahora sí tenemos podría quería
        agradezco ayuda hemos recibido pago vemos pronto llamarme estamos tarde noche hasta
        desde sin cómo qué cuándo dónde""",
    "it": """il lo la i gli le di del della dei delle e è che un una uno per con non in da al
        alla sono si ci mi ti ma come anche più questo questa quello molto grazie ciao
        buongiorno cordiali saluti gentile ho hai ha abbiamo avete hanno essere sia può
        possiamo vorrei settimana prossima riunione domani oggi allegato se quando dove perché
        tutto tutti nostro nostra vostro suo sua ancora già bene invio distinti va sto
        sei siamo fare potresti scegliamo faremo sapere dopo prima adesso allora qui
        presto buon richiamarmi ringrazio aiuto ricevuto pagamento mattina sera ecco però così
        qualche ogni cosa fatto devo dobbiamo stato stata nel nella sul sulla degli dalla""",
    "pt": """o a os as de do da dos das e é que em no na nos nas um uma para com não por se ao
        à mais mas como seu sua você vocês nós eu ele ela muito também já está estão são ser
        foi pode podemos obrigado obrigada olá bom dia reunião semana próxima amanhã hoje
        anexo favor sobre quando onde porque bem todos tudo nosso nossa atenciosamente abraço
        prezado prezada isso este esta essa esse ainda então gostaria vou tem temos
        mim ótimo vamos fazer poderia estou depois antes agora aqui sim breve
        agradeço ajuda até logo fim ligar manhã recebemos pagamento pelo pela num numa dele dela
        quem qual segue seguem""",
    "nl": """de het een en van is dat die in te op voor met niet zijn aan er ook om maar als
        bij dit nog wel je jij u uw ik we wij ze hij heb heeft hebben kan kunnen zou wordt
        worden naar uit over of dan al meer graag dank bedankt groet groeten vriendelijke
        hallo beste goed week volgende morgen vandaag bijlage vergadering wanneer waar omdat
        alle ons onze mijn hier even mee zal zullen moet geen nu het jullie gaan komen
        laten weten bekijken sturen dinsdag
        kunt mij terugbellen tot snel fijn hulp zit betaling ontvangen hun haar deze wat hoe
        waarom welke want dus toch alleen heel veel erg""",
}

# Letters (and one digraph) that only a few of the languages use; each occurrence adds a
# little evidence.
_LETTER_HINTS: dict[str, tuple[str, ...]] = {
    "ß": ("de",), "ä": ("de",), "ö": ("de",), "ü": ("de",),
    "ñ": ("es",), "¿": ("es",), "¡": ("es",),
    "ã": ("pt",), "õ": ("pt",), "ç": ("fr", "pt"), "ê": ("fr", "pt"),
    "è": ("fr", "it"), "ù": ("fr", "it"), "ì": ("it",), "ò": ("it",), "œ": ("fr",),
    "ij": ("nl",),  # the Dutch digraph, rare elsewhere
}
_LETTER_WEIGHT = 0.3
# Word endings as typical as a stopword ("opción", "opção", "opzione", "Besprechung").
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("ción", "es"), ("ciones", "es"), ("ção", "pt"), ("ções", "pt"), ("zione", "it"),
    ("zioni", "it"), ("ung", "de"), ("keit", "de"), ("heit", "de"), ("lijk", "nl"),
    ("ness", "en"), ("eux", "fr"),
)
_SUFFIX_WEIGHT = 0.5

# Scripts that identify a language (or its most likely one) on their own.
_SCRIPTS: dict[str, re.Pattern[str]] = {
    "kana": re.compile(r"[\u3040-\u30ff]"),
    "zh": re.compile(r"[\u4e00-\u9fff]"),
    "ko": re.compile(r"[\uac00-\ud7af\u1100-\u11ff]"),
    "ru": re.compile(r"[\u0400-\u04ff]"),
    "el": re.compile(r"[\u0370-\u03ff]"),
    "he": re.compile(r"[\u0590-\u05ff]"),
    "ar": re.compile(r"[\u0600-\u06ff]"),
    "th": re.compile(r"[\u0e00-\u0e7f]"),
    "hi": re.compile(r"[\u0900-\u097f]"),
}
_UKRAINIAN = re.compile(r"[іїєґІЇЄҐ]")
_NON_LATIN = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u0590-\u06ff\u0900-\u097f\u0e00-\u0e7f"
                        r"\u1100-\u11ff\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")
_LATIN_LETTER = re.compile(r"[a-zA-Z\u00c0-\u024f]")
_NOISE = re.compile(r"\S+@\S+|(?:https?://|www\.)\S+")
_TOKEN = re.compile(r"[a-zß-öø-ÿœ]+(?:'[a-zß-öø-ÿœ]+)?")  # ß through ö: Latin-1 letters

_SAMPLE_CHARS = 10_000  # language is stable; scanning more only costs time
_MIN_SCORE = 2.0
_MIN_MARGIN = 0.5
_ORDER = tuple(_WORDS)  # fixed tie-break order keeps the result deterministic


def _weights() -> dict[str, tuple[tuple[str, float], ...]]:
    owners: dict[str, list[str]] = {}
    for lang, words in _WORDS.items():
        for word in set(words.split()):
            owners.setdefault(word, []).append(lang)
    return {
        word: tuple((lang, 1.0 / len(langs)) for lang in langs)
        for word, langs in owners.items()
    }


_WEIGHTS = _weights()


def detect_language(text: str, default: str = "en") -> str:
    """The ISO 639-1 code of the text's language, or `default` when too short or unclear."""
    if not text:
        return default
    sample = text[:_SAMPLE_CHARS]
    script = _script_language(sample)
    if script:
        return script
    sample = _NOISE.sub(" ", sample.lower().replace("’", "'"))
    scores = dict.fromkeys(_ORDER, 0.0)
    for token, count in Counter(_TOKEN.findall(sample)).items():
        weights = _WEIGHTS.get(token)
        if weights:
            for lang, weight in weights:
                scores[lang] += weight * count
            continue
        for suffix, lang in _SUFFIXES:
            if len(token) > len(suffix) + 2 and token.endswith(suffix):
                scores[lang] += _SUFFIX_WEIGHT * count
                break
    for letter, langs in _LETTER_HINTS.items():
        hits = sample.count(letter)
        if hits:
            for lang in langs:
                scores[lang] += _LETTER_WEIGHT * hits / len(langs)
    ranked = sorted(_ORDER, key=lambda lang: -scores[lang])  # stable: ties keep _ORDER
    best, second = ranked[0], ranked[1]
    if scores[best] < _MIN_SCORE or scores[best] - scores[second] < _MIN_MARGIN:
        return default
    return best


def _script_language(sample: str) -> str | None:
    """A non-Latin script that makes up most of the letters names the language directly."""
    if not _NON_LATIN.search(sample):
        return None
    counts = {name: len(pattern.findall(sample)) for name, pattern in _SCRIPTS.items()}
    # Japanese mixes kana with kanji (shared with Chinese); any real share of kana means Japanese.
    kana, han = counts.pop("kana"), counts["zh"]
    if kana and kana * 10 >= han:
        counts["ja"], counts["zh"] = kana + han, 0
    name = max(counts, key=lambda key: counts[key])
    if counts[name] <= len(_LATIN_LETTER.findall(sample)):
        return None
    if name == "ru" and _UKRAINIAN.search(sample):
        return "uk"
    return name
