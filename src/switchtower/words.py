"""Word runs of a text: the maximal runs of word characters (``\\w+``), fast for ASCII.

Shared by the classifier's n-gram features and the signals' per-text word index. For
an ASCII text, mapping every non-word character to a space and splitting gives exactly
the runs the regex finds, several times faster; other texts use the regex.
"""

from __future__ import annotations

import re

__all__ = ["word_runs"]

_WORD = re.compile(r"\w+")
#: ASCII non-word characters -> space (``\w`` decides, so the two paths agree)
_ASCII_NON_WORD = str.maketrans({c: " " for c in range(128) if not _WORD.fullmatch(chr(c))})


def word_runs(text: str) -> list[str]:
    """``re.findall(r"\\w+", text)``: the maximal runs of word characters, in order."""
    if text.isascii():
        return text.translate(_ASCII_NON_WORD).split()
    return _WORD.findall(text)
