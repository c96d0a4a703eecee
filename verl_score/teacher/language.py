"""Is a guide's hint English? A cheap script + stopword heuristic, no model and no dependency.

Why the screen cares: the verdict rules (``verl_score.teacher.verdicts``) are English. "Votre réponse est fausse."
or "答案正确。" tell attempt 2 exactly what an English verdict would, and a multilingual guide (Qwen, Llama) switches
language when the problem or the attempt does. Rather than chase verdict phrasings in every language, a hint that
is not English is rejected (reason ``non_english``) and the turn gets the static instruction, counted. The policy's
own prompts are English, so an English-only guide costs nothing on the datasets this project trains on.

The test is per sentence, so one foreign sentence after an English one is caught too:

* a non-Latin script (CJK, kana, hangul, Cyrillic, Arabic, Hebrew, Devanagari, Thai ...): one CJK/kana/hangul
  character, or two letters of another script; a Greek *word* (3+ letters) too -- a lone θ or Δ is mathematics;
* Spanish ¿ / ¡;
* Latin-script text: words from distinctive French / German / Spanish / Italian / Portuguese / Dutch function-word
  lists plus words with a non-ASCII Latin letter (é, ü, ñ, ß, ğ, ł ...) outnumber English function words, with at
  least two such foreign marks, or one when the sentence has no English function word at all ("Falsch!", "Très
  bien."). A language without diacritics whose words are on no list ("Jawabanmu benar.") is not recognised: the
  verdict classifier is asked about judgements in any language.

Words that are also English, or that mathematics uses ("a", "in", "die", "per", "sin", "non", single letters), are
left out of the foreign lists. English loanwords with accents (café, naïve, résumé) do not count as foreign.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["foreign_sentence", "is_non_english"]

#: one character of these scripts is enough (ideographs and syllabaries carry a word each)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]")
#: two letters of these alphabetic scripts (Cyrillic, Armenian, Hebrew, Arabic, Devanagari..., Thai, Georgian)
_OTHER_SCRIPT = re.compile(r"[\u0400-\u052f\u0530-\u058f\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\u0900-\u0dff"
                           r"\u0e00-\u0e7f\u10a0-\u10ff]")
_GREEK_WORD = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]{3,}")
_SPANISH_PUNCT = re.compile(r"[¿¡]")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|\n+")

_FOREIGN = frozenset(
    # French
    "le la les des du une est et pas vous votre vos ta tes ce cette ces qui que dans avec sur mais très "
    "bien il elle nous je tu c'est l'étape réponse étape erreur vérifiez vérifie revoyez calcul faux fausse juste "
    "aussi être sont était rien ici oui leur leurs ma mes sa ses été fait "
    # German
    "der das und ist nicht ein eine einen einem dein deine deinen ihre sie du mit für auf ich es zu den dem auch "
    "noch sehr schritt antwort fehler prüfe überprüfe ergebnis richtig falsch stimmt gemacht bitte nochmal "
    "noch dass wir sind hier alles keine kein ja "
    # Spanish
    "el los las una está están tu su que por para muy paso respuesta revisa verifica correcta "
    "incorrecta correcto incorrecto pero bien hecho también es esta este cálculo resultado sí "
    # Italian
    "il lo gli di che tua tuo sono molto bene passo risposta errore controlla giusto giusta sbagliato sbagliata "
    "corretto corretta ottimo è della nel questo questa "
    # Portuguese
    "os uma é sua seu você não muito bem resposta erro verifique certo certa errado errada está "
    "isso aqui "
    # Dutch
    "het een niet je jouw antwoord stap fout goed dat klopt controleer"
    .split()
)
_ENGLISH = frozenset(
    "the a an and or of to in on at for with from by as is are was were be been being it its this that these those "
    "you your yours what which who whom whose how why when where whether if then than so not no do does did done "
    "have has had will would can could should shall may might must there their they them he she his her we our "
    "i me my each every all any both some many much more most few less least one two three first second third last "
    "step steps check answer total number sum value again make sure re recheck verify look find count "
    "about into over under after before between up down out only also just even still same other another such "
    "per here now".split()
)
_LOANWORDS = frozenset("café cafés naïve naïvely résumé résumés cliché clichés fiancé fiancée déjà vu "
                       "façade façades rôle touché über jalapeño jalapeños piñata piñatas".split())


def _has_diacritic(word: str) -> bool:
    """A Latin letter outside ASCII: é, ü, ñ, ß, ğ, ź, ł, ø ... (English writes none outside loanwords)."""
    return any(ord(c) > 127 and c.isalpha() and unicodedata.name(c, "").startswith("LATIN") for c in word)


def _letters(word: str) -> str:
    return unicodedata.normalize("NFC", word.lower().replace("’", "'"))


def foreign_sentence(sentence: str) -> str | None:
    """Why ``sentence`` is not English (a short tag), or None when it reads as English (or has no words)."""
    if _CJK.search(sentence):
        return "cjk_script"
    if len(_OTHER_SCRIPT.findall(sentence)) >= 2:
        return "non_latin_script"
    if _GREEK_WORD.search(sentence):
        return "greek_word"
    if _SPANISH_PUNCT.search(sentence):
        return "spanish_punctuation"
    words = [_letters(w) for w in _WORD.findall(sentence)]
    words = [w for w in words if len(w) > 1]
    if not words:
        return None
    english = sum(w in _ENGLISH for w in words)
    foreign = 0
    for w in words:
        if w in _ENGLISH or w in _LOANWORDS:
            continue
        # "l'étape" / "c'est": the elided article is foreign, so count the whole token once
        if w in _FOREIGN or w.split("'")[-1] in _FOREIGN or _has_diacritic(w):
            foreign += 1
    if foreign > english and (foreign >= 2 or (foreign == 1 and english == 0)):
        return "foreign_words"
    return None


def is_non_english(text: str) -> str | None:
    """The first sentence of ``text`` that is not English, tagged (``"cjk_script: 答案正确。"``), or None."""
    for sentence in _SENTENCE.split(text):
        tag = foreign_sentence(sentence)
        if tag is not None:
            return f"{tag}: {sentence.strip()[:40]}"
    return None
