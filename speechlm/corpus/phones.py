"""The corpus's phone inventory: eSpeak NG's English phoneme mnemonics mapped to ARPAbet.

39 ARPAbet phones (15 vowels, 24 consonants; the CMU dictionary's set, lower
case, stress removed) plus ``"sil"`` for silence: :data:`PHONES`. eSpeak's
mnemonics differ by accent (``"0"`` in British "lot", ``"t#"`` for the
American flap, ``"A@"`` for "car" without an r...); :data:`ESPEAK_TO_PHONE`
maps every mnemonic the grammar produces in the eight English accents to
one phone. The table is in ``docs/phones.md``. Introduced in notebook 00.
"""

from __future__ import annotations

__all__ = ["CONSONANTS", "ESPEAK_TO_PHONE", "MODIFIERS", "PHONES", "SILENCE", "VOWELS", "to_phone"]

SILENCE = "sil"
VOWELS = ["aa", "ae", "ah", "ao", "aw", "ay", "eh", "er", "ey", "ih", "iy", "ow", "oy", "uh", "uw"]
CONSONANTS = ["b", "ch", "d", "dh", "f", "g", "hh", "jh", "k", "l", "m", "n", "ng", "p", "r", "s", "sh"]
CONSONANTS += ["t", "th", "v", "w", "y", "z", "zh"]
PHONES = [SILENCE, *VOWELS, *CONSONANTS]

# eSpeak mnemonic (stress marks ' and , removed) -> phone; grouped by phone.
ESPEAK_TO_PHONE = {
    # vowels
    "A:": "aa", "A@": "aa", "0": "aa", "aa": "ae", "a": "ae",
    "@": "ah", "@2": "ah", "@5": "ah", "a#": "ah", "V": "ah",
    "O:": "ao", "O2": "ao", "O@": "ao", "o@": "ao",
    "aU": "aw", "aI": "ay", "aI2": "ay", "aI@": "ay",
    "E": "eh", "e@": "eh",
    "3": "er", "3:": "er", "VR": "er", "IR": "er", "@r": "er",
    "eI": "ey",
    "I": "ih", "I2": "ih", "I#": "ih", "i@": "ih", "i@3": "ih",
    "i": "iy", "i:": "iy",
    "oU": "ow", "o:": "ow", "OI": "oy",
    "U": "uh", "U@": "uh",
    "u:": "uw", "u": "uw",
    # consonants
    "b": "b", "tS": "ch", "d": "d", "d#": "d", "D": "dh", "f": "f", "g": "g", "h": "hh", "dZ": "jh",
    "k": "k", "x": "k", "l": "l", "@L": "l", "l/": "l", "m": "m", "n": "n", "n-": "n", "N": "ng",
    "p": "p", "r": "r", "r-": "r", "s": "s", "S": "sh",
    "t": "t", "t#": "t", "t2": "t", "t[": "t", "?": "t", "T": "th", "v": "v",
    "w": "w", "w#": "w", "j": "y", "z": "z", "Z": "zh",
}  # fmt: skip

# Mnemonics that mark the neighbouring phone rather than being a sound of their own
# (";" palatalises the previous consonant): their time is merged into the previous phone.
MODIFIERS = {";"}


def to_phone(mnemonic: str) -> str | None:
    """The inventory phone of an eSpeak mnemonic (``"'aI" -> "ay"``); None for a modifier.

    Pauses (``"_"``, ``"_:"``, ``"_|"``) are ``"sil"``. A mnemonic outside the
    table (an accent or word the grammar never uses) falls back to its first
    character's phone, which is close ("o" for a rounded vowel...), and finally
    to ``"ah"``.
    """
    core = mnemonic.lstrip("',=")
    if core in MODIFIERS:
        return None
    if core.startswith("_"):
        return SILENCE
    if core in ESPEAK_TO_PHONE:
        return ESPEAK_TO_PHONE[core]
    return ESPEAK_TO_PHONE.get(core[:1], "ah")
