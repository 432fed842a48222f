"""Fast token estimates for routing decisions, calibrated against the Gemma 3 tokenizer.

Routing needs to know roughly how big a prompt is (does it fit a context window, is it a
"small" request) on every request, and loading a 262k-entry SentencePiece vocabulary in
the gateway just for that is too heavy. So the estimate is a weighted sum of a few
character-class counts, each taken by a compiled regex or `str.count` (C speed, no
per-character Python loop):

- ASCII letters, and ASCII "words" (case runs: `fooBar` is two, as the tokenizer splits it);
- digits: Gemma splits numbers into single digits, so each digit is about one token;
- ASCII punctuation, and runs of it (`"):` is often one token);
- runs of newlines, and runs of 2+ spaces/tabs (an indent is one token);
- per script outside ASCII (Latin with diacritics, Greek, Cyrillic, Hebrew, Arabic, Indic,
  CJK/kana, Hangul): characters and runs, since scripts cost very different amounts;
- any other non-ASCII character (typographic quotes, dashes, emoji).

The weights are fitted (non-negative least squares on relative error) by
`bench/calibrate_tokens.py` against the real tokenizer (Gemma 3 and Gemma 4 share the
vocabulary), which also reports the held-out accuracy per kind of text.
"""

from __future__ import annotations

import re

BOS = 1
"""`<bos>`, once per prompt."""

MESSAGE_OVERHEAD_TOKENS = 5
"""Per chat message: `<start_of_turn>`, role, `\\n` ... `<end_of_turn>`, `\\n` (measured)."""

REPLY_PRIMER_TOKENS = 3
"""`<start_of_turn>model\\n`, which the chat template appends to open the reply."""

_CASE_RUN = re.compile(r"[A-Z]*[a-z]+|[A-Z]+")
_PUNCT_RUN = re.compile(r"[!-/:-@\[-`{-~]+")
_NEWLINE_RUN = re.compile(r"[\r\n]+")
_INDENT_RUN = re.compile(r"[ \t]{2,}|\t")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_SCRIPTS = (
    ("latin", re.compile(r"[\u0080-\u024f\u1e00-\u1eff]+")),
    ("greek", re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]+")),
    ("cyrillic", re.compile(r"[\u0400-\u052f]+")),
    ("hebrew", re.compile(r"[\u0590-\u05ff\ufb1d-\ufb4f]+")),
    ("arabic", re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufefe]+")),
    ("indic", re.compile(r"[\u0900-\u0dff]+")),
    ("cjk", re.compile(r"[\u2e80-\u312f\u3190-\u9fff\uf900-\ufaff\uff00-\uffef]+")),
    ("hangul", re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]+")),
)
_DIGITS = "0123456789"

FEATURE_NAMES: tuple[str, ...] = (
    "text",
    "ascii_word",
    "ascii_letter",
    "digit",
    "punct",
    "punct_run",
    "newline_run",
    "indent_run",
    *(f"{name}_{unit}" for name, _ in _SCRIPTS for unit in ("char", "run")),
    "other_char",
)

# Fitted by bench/calibrate_tokens.py (run it to refit and to see the held-out accuracy).
# Tokens per unit of each feature, in FEATURE_NAMES order.
_WEIGHTS: dict[str, float] = {
    "text": 0.1887,
    "ascii_word": 0.2746,
    "ascii_letter": 0.1494,
    "digit": 1.1834,
    "punct": 0.1137,
    "punct_run": 0.8921,
    "newline_run": 1.7823,
    "indent_run": 0.6522,
    "latin_char": 0.0,
    "latin_run": 0.6558,
    "greek_char": 0.4144,
    "greek_run": 0.0,
    "cyrillic_char": 0.175,
    "cyrillic_run": 0.6857,
    "hebrew_char": 0.4093,
    "hebrew_run": 0.6418,
    "arabic_char": 0.3944,
    "arabic_run": 0.0,
    "indic_char": 0.3033,
    "indic_run": 0.0,
    "cjk_char": 0.3465,
    "cjk_run": 1.4359,
    "hangul_char": 0.4374,
    "hangul_run": 0.6134,
    "other_char": 1.5049,
}
_WEIGHT_VECTOR = tuple(_WEIGHTS[name] for name in FEATURE_NAMES)


def text_features(text: str) -> tuple[int, ...]:
    """The counts the estimate weighs, in FEATURE_NAMES order (calibration fits on these).

    >>> dict(zip(FEATURE_NAMES, text_features("fooBar(1);\\n")))["ascii_word"]
    2
    """
    if not text:
        return (0,) * len(FEATURE_NAMES)
    words = _CASE_RUN.findall(text)
    letters = sum(map(len, words))
    digits = sum(map(text.count, _DIGITS))
    spaces = text.count(" ") + text.count("\n") + text.count("\t") + text.count("\r")
    scripts: list[int] = []
    non_ascii = 0
    if not text.isascii():
        # Scan only the non-ASCII runs; the ASCII separator keeps runs apart as in `text`.
        runs = _NON_ASCII_RUN.findall(text)
        rest = "\x00".join(runs)
        non_ascii = len(rest) - len(runs) + 1
        for _, pattern in _SCRIPTS:
            found = pattern.findall(rest)
            scripts += (sum(map(len, found)), len(found))
    else:
        scripts = [0] * (2 * len(_SCRIPTS))
    return (
        1,
        len(words),
        letters,
        digits,
        len(text) - letters - digits - spaces - non_ascii,
        len(_PUNCT_RUN.findall(text)),
        len(_NEWLINE_RUN.findall(text)),
        len(_INDENT_RUN.findall(text)),
        *scripts,
        non_ascii - sum(scripts[0::2]),
    )


def estimate_text_tokens(text: str) -> int:
    """About how many Gemma tokens `text` is (no BOS, no chat markup); at least 1 if non-empty.

    >>> estimate_text_tokens("")
    0
    >>> estimate_text_tokens("Hello, world!")
    4
    """
    if not text:
        return 0
    total = sum(w * f for w, f in zip(_WEIGHT_VECTOR, text_features(text), strict=True))
    return max(1, round(total))
