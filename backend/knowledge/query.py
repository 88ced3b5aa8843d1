"""An email's newest message to search terms: the words that say what it is about.

Greetings, sign-offs, filler, redaction placeholders and one-letter words are dropped; what is
left, in order of first appearance, is what the index is asked for.
"""
from __future__ import annotations

import re

MAX_TERMS = 24
_PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*\]")
_WORD = re.compile(r"[^\W_]+")
# English function words and the words every business email uses; a few of the commonest words
# of the other drafting languages. Content words (invoice, warranty, price) are kept.
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can cannot could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them themselves
then there these they this those through to too under until up very was we were what when where
which while who whom why will with would you your yours yourself yourselves
hi hello dear hey thanks thank regards best kind cheers please could would can let know need
needs want wanted like get got send sent see seen look looking forward question questions ask
asking asked help tell confirm confirmed advise share sure ok okay yes today tomorrow yesterday
soon asap email mail message attached attachment find regarding re fw fwd sincerely greetings
morning afternoon evening week month year time one two us via per etc may might must shall
le la les un une des du de et est pour dans que qui sur avec pas vous nous je bonjour merci
der die das und ist nicht ein eine zu den mit von sie ich wir hallo danke bitte
el los las y es por con para una del lo como hola gracias il che di da per con sono ciao grazie
""".split())


def search_terms(text: str, limit: int = MAX_TERMS) -> list[str]:
    """Distinct lower-cased content words of `text`, first appearance first."""
    text = _PLACEHOLDER.sub(" ", text)
    seen: dict[str, None] = {}
    for match in _WORD.finditer(text):
        word = match.group(0).casefold()
        if word in STOPWORDS or word in seen:
            continue
        if len(word) < 2 or (word.isdigit() and len(word) < 3) or len(word) > 40:
            continue
        seen[word] = None
        if len(seen) == limit:
            break
    return list(seen)
