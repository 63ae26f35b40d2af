"""Small helpers for the English of aekit's messages: "1 epoch", "2 epochs", "an Autoencoder"."""

from __future__ import annotations

import re

# Letters whose names start with a vowel sound, for a letter or an acronym read letter by
# letter: "an MSE loss", "an HDF5 file", "an x", but "a VAE", "a GPU".
_VOWEL_SOUND_LETTERS = frozenset("AEFHILMNORSX")
# Words that start with a vowel letter but a consonant sound ("a unit", "a one-hot column").
_CONSONANT_SOUND = re.compile(r"^(?:uni(?!n)|us[eu]|uti|eu|one$|once$)", re.IGNORECASE)
# Words that start with a silent h ("an hour").
_SILENT_H = re.compile(r"^(?:hour|honou?r|honest|heir)", re.IGNORECASE)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and ``word``, in the plural unless ``n`` is 1; ``many`` for irregular plurals.

    Examples
    --------
    >>> plural(1, "epoch"), plural(3, "epoch"), plural(0, "query", "queries")
    ('1 epoch', '3 epochs', '0 queries')
    """
    return f"{n} {word if n == 1 else (many or word + 's')}"


def a_or_an(word: str) -> str:
    """``word`` after the article its sound takes: "a" before a consonant sound, "an" before a
    vowel sound (a vowel letter, an acronym spelled from "an" letters, an 8, 11 or 18).

    Examples
    --------
    >>> a_or_an("Autoencoder"), a_or_an("VAE"), a_or_an("MSE loss"), a_or_an("8-step run")
    ('an Autoencoder', 'a VAE', 'an MSE loss', 'an 8-step run')
    >>> a_or_an("unit"), a_or_an("11-step run"), a_or_an("110-step run")
    ('a unit', 'an 11-step run', 'a 110-step run')
    """
    return f"{'an' if _vowel_sound(word) else 'a'} {word}"


def _vowel_sound(word: str) -> bool:
    digits = re.match(r"\d[\d,_]*", word)
    if digits:
        # Numbers are read in groups of three: 8, 80, 800, 8,000 and 11, 18, 11,000 start
        # with a vowel sound; 110 ("one hundred ten") does not.
        number = re.sub(r"[,_]", "", digits.group())
        lead = number[: len(number) % 3 or 3]
        return lead.startswith("8") or lead in ("11", "18")
    first = re.match(r"[A-Za-z]+", word)
    if first is None:
        return False
    letters = first.group()
    if len(letters) == 1 or letters.isupper():  # a letter or an acronym, read as letters
        return letters[0].upper() in _VOWEL_SOUND_LETTERS
    if _SILENT_H.match(letters):
        return True
    return letters[0].lower() in "aeiou" and not _CONSONANT_SOUND.match(letters)
