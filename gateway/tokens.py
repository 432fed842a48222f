"""Fast token estimates for routing decisions, calibrated against the Gemma 3 tokenizer.

Routing needs to know roughly how big a prompt is (does it fit a context window, is it a
"small" request) on every request, and loading a 262k-entry SentencePiece vocabulary in
the gateway just for that is too heavy. So the estimate is a weighted sum of a few
character-class counts:

- ASCII letters, and ASCII words (letter runs, plus one per camelCase hump: `fooBar` is
  two, as the tokenizer splits it);
- digits: Gemma splits numbers into single digits, so each digit is about one token;
- ASCII punctuation/symbols (tab included), and runs of them (`"):` is often one token);
- runs of newlines, and runs of 2+ spaces (an indent is one token);
- per script outside ASCII (Latin with diacritics, Greek, Cyrillic, Hebrew, Arabic, Indic,
  kana, Han, Hangul): characters and runs, since scripts cost very different amounts;
- any other non-ASCII character (typographic quotes, dashes, emoji).

Speed: no per-character Python loop and no regex scan. The text is encoded to UTF-8 once,
each class is `bytes.translate`d to a one-byte-per-input-byte class string, and
`bytes.count` counts class bytes (characters) and two-byte transitions such as b"01" (the
starts of runs). For non-ASCII text, a UTF-8 lead byte tells the script of its character
well enough (0xD0-0xD4: Cyrillic, 0xE4-0xE9: Han, ...), and continuation bytes are skipped.

The weights are fitted (non-negative least squares on relative error) by
`bench/calibrate_tokens.py` against the real tokenizer (Gemma 3 and Gemma 4 share the
vocabulary), which also reports the held-out accuracy per kind of text.
"""

from __future__ import annotations

BOS = 1
"""`<bos>`, once per prompt."""

MESSAGE_OVERHEAD_TOKENS = 5
"""Per chat message: `<start_of_turn>`, role, `\\n` ... `<end_of_turn>`, `\\n` (measured)."""

REPLY_PRIMER_TOKENS = 3
"""`<start_of_turn>model\\n`, which the chat template appends to open the reply."""


def _table(classes: dict[bytes, range | bytes], default: bytes = b"0") -> bytes:
    """A `bytes.translate` table sending each byte in a class's members to its class byte."""
    table = bytearray(default * 256)
    for symbol, members in classes.items():
        for byte in members:
            table[byte] = symbol[0]
    return bytes(table)


_LOWER = bytes(range(ord("a"), ord("z") + 1))
_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_DIGIT = b"0123456789"
_NEWLINE = b"\r\n"
_PUNCT = bytes(b for b in range(128) if b not in _LOWER + _UPPER + _DIGIT + _NEWLINE + b" ")

# ASCII classes. Bytes >= 0x80 are "0" (not in the class) in all of these.
_CASE = _table({b"a": _LOWER, b"A": _UPPER})
_DIGITS = _table({b"1": _DIGIT})
_PUNCTS = _table({b"1": _PUNCT})
_NEWLINES = _table({b"1": _NEWLINE})
_SPACES = _table({b"1": b" "})

# Scripts, by UTF-8 lead byte: (class byte, feature name, lead bytes).
_SCRIPTS = (
    (b"l", "latin", bytes([*range(0xC2, 0xCD), 0xE1])),  # U+0080-033F, U+1E00-1EFF
    (b"g", "greek", range(0xCD, 0xD0)),  # U+0340-03FF
    (b"c", "cyrillic", range(0xD0, 0xD5)),  # U+0400-053F
    (b"h", "hebrew", range(0xD6, 0xD8)),  # U+0580-05FF
    (b"r", "arabic", range(0xD8, 0xDE)),  # U+0600-077F
    (b"i", "indic", range(0xE0, 0xE1)),  # U+0800-0FFF: Devanagari ... Thai, Tibetan
    (b"k", "kana", range(0xE3, 0xE4)),  # U+3000-3FFF: CJK punctuation, kana
    (b"H", "han", bytes([*range(0xE4, 0xEA), 0xEF])),  # U+4000-9FFF, fullwidth forms
    (b"K", "hangul", range(0xEA, 0xEE)),  # U+A000-DFFF: Hangul syllables
)
_SCRIPT = _table(
    {b".": range(0x80, 0xC0), b"o": range(0xC0, 0x100)}  # continuation bytes; other leads
    | {symbol: leads for symbol, _, leads in _SCRIPTS}
)

FEATURE_NAMES: tuple[str, ...] = (
    "text",
    "ascii_word",
    "ascii_letter",
    "digit",
    "punct",
    "punct_run",
    "newline_run",
    "indent_run",
    *(f"{name}_{unit}" for _, name, _ in _SCRIPTS for unit in ("char", "run")),
    "other_char",
)

# Fitted by bench/calibrate_tokens.py (run it to refit and to see the held-out accuracy).
# Tokens per unit of each feature.
_WEIGHTS: dict[str, float] = {
    "text": 0.0807,
    "ascii_word": 0.3022,
    "ascii_letter": 0.144,
    "digit": 1.1457,
    "punct": 0.1046,
    "punct_run": 0.926,
    "newline_run": 1.7594,
    "indent_run": 0.5843,
    "latin_char": 0.5664,
    "latin_run": 0.0,
    "greek_char": 0.4082,
    "greek_run": 0.0,
    "cyrillic_char": 0.2574,
    "cyrillic_run": 0.131,
    "hebrew_char": 0.5384,
    "hebrew_run": 0.0,
    "arabic_char": 0.3714,
    "arabic_run": 0.0,
    "indic_char": 0.3098,
    "indic_run": 0.0,
    "kana_char": 0.3679,
    "kana_run": 0.3636,
    "han_char": 0.5815,
    "han_run": 0.1897,
    "hangul_char": 0.5034,
    "hangul_run": 0.4886,
    "other_char": 1.3483,
}
_WEIGHT_VECTOR = tuple(_WEIGHTS[name] for name in FEATURE_NAMES)


def _runs(mask: bytes, symbol: bytes = b"1", before: bytes = b"0") -> int:
    """How many runs of `symbol` the class string has (a run starts after `before`)."""
    return mask.count(before + symbol) + mask.startswith(symbol)


def text_features(text: str) -> tuple[int, ...]:
    """The counts the estimate weighs, in FEATURE_NAMES order (calibration fits on these).

    >>> dict(zip(FEATURE_NAMES, text_features("fooBar(x2y);\\n")))["ascii_word"]
    4
    """
    if not text:
        return (0,) * len(FEATURE_NAMES)
    data = text.encode("utf-8", "surrogatepass")
    case = data.translate(_CASE)
    puncts = data.translate(_PUNCTS)
    # A word starts at a letter after a non-letter, or at an uppercase after a lowercase.
    words = _runs(case, b"a") + _runs(case, b"A") + case.count(b"aA")
    features = [
        1,
        words,
        case.count(b"a") + case.count(b"A"),
        data.translate(_DIGITS).count(b"1"),
        puncts.count(b"1"),
        _runs(puncts),
        _runs(data.translate(_NEWLINES)),
        _runs(data.translate(_SPACES), b"11"),
    ]
    if text.isascii():
        features += [0] * (2 * len(_SCRIPTS) + 1)
    else:
        scripts = data.translate(_SCRIPT)
        for symbol, _, _ in _SCRIPTS:
            # Most texts use one or two scripts; `in` (memchr) skips the others cheaply.
            if symbol in scripts:
                features += (scripts.count(symbol), _runs(scripts, symbol))
            else:
                features += (0, 0)
        features.append(scripts.count(b"o"))
    return tuple(features)


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
