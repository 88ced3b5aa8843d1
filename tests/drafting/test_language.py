"""detect_language: the language a reply should be written in, from the message text."""
from __future__ import annotations

import pytest

from backend.drafting.language import detect_language

SAMPLES = [
    ("en", "Hi Bob, could you please send me the report before the meeting on Tuesday? Thanks"),
    ("en", "Thank you for your quick reply. We will review the contract and get back to you."),
    ("en", "Sounds good to me, let's go with the second option."),
    ("fr", "Bonjour Marc, pourriez-vous m'envoyer le rapport avant la réunion de mardi ? Merci"),
    ("fr", "Merci pour votre retour rapide. Nous allons étudier le contrat et revenir vers vous."),
    ("fr", "Je suis d'accord avec vous, c'est la meilleure solution."),
    ("de", "Hallo Markus, könnten Sie mir bitte den Bericht vor dem Termin am Dienstag schicken?"),
    ("de", "Vielen Dank für Ihre schnelle Antwort. Wir prüfen den Vertrag und melden uns."),
    ("de", "Das passt mir gut, ich bin am Montag im Büro."),
    ("de", "Viele Grüße und ein schönes Wochenende"),
    ("es", "Hola Marcos, ¿podrías enviarme el informe antes de la reunión del martes? Gracias"),
    ("es", "Muchas gracias por su rápida respuesta. Revisaremos el contrato y le contestaremos."),
    ("es", "Me parece bien, vamos con la segunda opción."),
    ("it", "Ciao Marco, potresti inviarmi il rapporto prima della riunione di martedì? Grazie"),
    ("it", "Grazie per la risposta veloce. Esamineremo il contratto e vi faremo sapere."),
    ("it", "Per me va bene, scegliamo la seconda opzione."),
    ("pt", "Olá Marcos, você poderia me enviar o relatório antes da reunião de terça? Obrigado"),
    ("pt", "Obrigado pela resposta rápida. Vamos analisar o contrato e retornamos em breve."),
    ("pt", "Para mim está ótimo, vamos com a segunda opção."),
    ("nl", "Hallo Mark, kun je me het rapport voor de vergadering van dinsdag sturen? Bedankt"),
    ("nl", "Bedankt voor je snelle reactie. We bekijken het contract en laten het je weten."),
    ("nl", "Dat is goed voor mij, we gaan voor de tweede optie."),
]


@pytest.mark.parametrize(("expected", "text"), SAMPLES,
                         ids=[f"{code}-{i}" for i, (code, _) in enumerate(SAMPLES)])
def test_mail_text_is_recognised_in_each_supported_language(expected: str, text: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    ("expected", "text"),
    [
        ("ja", "田中様、いつもお世話になっております。資料を送付いたします。"),
        ("zh", "你好，请在周二会议之前把报告发给我。谢谢"),
        ("ko", "안녕하세요, 화요일 회의 전에 보고서를 보내주세요."),
        ("ru", "Здравствуйте, пришлите, пожалуйста, отчёт до вторника."),
        ("uk", "Добрий день, надішліть, будь ласка, звіт до вівторка."),
        ("el", "Καλημέρα, μπορείτε να μου στείλετε την αναφορά;"),
        ("ar", "مرحبا، هل يمكنك إرسال التقرير قبل يوم الثلاثاء؟"),
        ("he", "שלום, אפשר לשלוח את הדוח לפני יום שלישי?"),
    ],
)
def test_text_in_a_distinctive_script_is_recognised_by_its_script(expected: str, text: str) -> None:
    assert detect_language(text) == expected


def test_a_few_foreign_words_in_english_text_do_not_change_the_language() -> None:
    text = "Please send the invoice to our office in 東京 by Friday, thanks for your help."

    assert detect_language(text) == "en"


@pytest.mark.parametrize("text", ["", "   ", "Ok", "Thanks!", "👍", "12:30", "Jane Doe"])
def test_too_short_text_returns_the_default(text: str) -> None:
    assert detect_language(text) == "en"
    assert detect_language(text, default="fr") == "fr"


def test_text_without_known_words_returns_the_default() -> None:
    assert detect_language("Xylophone quokka zephyr blorft snark", default="de") == "de"


def test_addresses_and_links_are_not_read_as_words() -> None:
    text = "https://www.example.de/die/der/und/das jana@die-firma.de www.und-der-die.de"

    assert detect_language(text, default="xx") == "xx"


def test_curly_apostrophes_count_like_straight_ones() -> None:
    assert detect_language("C’est d’accord, j’ai reçu votre message, merci") == "fr"


def test_detection_is_deterministic() -> None:
    text = "de la de la de la el el la"

    assert len({detect_language(text) for _ in range(20)}) == 1


def test_only_the_start_of_a_very_long_text_is_needed() -> None:
    text = "Bonjour, merci pour votre message. " * 400 + "Thanks and best regards. " * 5000

    assert detect_language(text) == "fr"
