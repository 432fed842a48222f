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
- per script outside ASCII (Latin-1 letters, other Latin letters, Greek, Cyrillic, Hebrew,
  Arabic, Indic, Vietnamese, kana, Han, Hangul, fullwidth forms): characters, and for some
  runs, since scripts cost very different amounts;
- any other non-ASCII character (typographic quotes, dashes, `«`, emoji).

The vocabulary covers English words far better than those of other languages written in
ASCII letters (` twenty` is one token, ` Zwanzig` three; ` error message` two,
` Fehlermeldung` four), so counting German like English underestimates it. Three counts
tell such text apart cheaply:

- ASCII letters in text that has accented Latin letters (ä, é, ł, ş, ạ: 1.7% of German
  letters, 3% of French, 6.6% of Polish), at most 50 per accented letter, so that a `café`
  in an English text flags 50 letters, not the whole text;
- the letter z: 0.1-0.2% of letters in English text and code, 1.3% in German, 4.3% in
  Polish;
- the letters only Ukrainian writes in Cyrillic (і, ї, є): Ukrainian costs more per letter
  than Russian.

Speed: no per-character Python loop and no regex scan. The text is encoded to UTF-8 once,
each class is `bytes.translate`d to a one-byte-per-input-byte class string, and
`bytes.count` counts class bytes (characters) and two-byte transitions such as b"01" (the
starts of runs). For non-ASCII text, a UTF-8 lead byte tells the script of its character
well enough (0xD0-0xD4: Cyrillic, 0xE4-0xE9: Han, ...), and continuation bytes are skipped.

The weights are fitted (non-negative least squares on relative error) by
`bench/calibrate_tokens.py` against the real tokenizer (Gemma 3 and Gemma 4 share the
vocabulary), which also reports the held-out accuracy per language and kind of text.
"""

from __future__ import annotations

import operator

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

# Scripts, by UTF-8 lead byte: (class byte, feature name, lead bytes, whether runs count).
# A run is the script after ASCII: in Cyrillic, Greek or Hebrew about a word, whose start
# costs extra; in Han or Hangul a stretch between ASCII words. Lead bytes 0xC2 (U+0080-00BF:
# «, NBSP, °) and 0xE2 (U+2000-2FFF: “, —, →) are symbols, counted as "other".
_SCRIPTS = (
    (b"l", "latin1", b"\xc3", False),  # U+00C0-00FF: é, ü, ß, ç, ñ
    (b"L", "latin_ext", range(0xC4, 0xCD), False),  # U+0100-033F: ł, ś, ğ, ı, ő, IPA
    (b"g", "greek", range(0xCD, 0xD0), True),  # U+0340-03FF
    (b"c", "cyrillic", range(0xD0, 0xD5), True),  # U+0400-053F
    (b"h", "hebrew", range(0xD6, 0xD8), True),  # U+0580-05FF
    (b"r", "arabic", range(0xD8, 0xDE), False),  # U+0600-077F
    (b"i", "indic", range(0xE0, 0xE1), False),  # U+0800-0FFF: Devanagari ... Thai, Tibetan
    (b"v", "vietnamese", range(0xE1, 0xE2), False),  # U+1000-1FFF: mostly ạ, ế, ữ (1E00-1EFF)
    (b"k", "kana", range(0xE3, 0xE4), False),  # U+3000-3FFF: kana, CJK punctuation (。、)
    (b"H", "han", range(0xE4, 0xEA), True),  # U+4000-9FFF
    (b"K", "hangul", range(0xEA, 0xEE), True),  # U+A000-DFFF: Hangul syllables
    (b"f", "fullwidth", range(0xEF, 0xF0), False),  # U+F000-FFFF: fullwidth punctuation (，：)
)
_SCRIPT = _table(
    {
        b".": range(0x80, 0xC0),  # continuation bytes
        b"o": range(0xC0, 0x100),  # other leads
        **{symbol: leads for symbol, _, leads, _ in _SCRIPTS},
    }
)
_ACCENTED = {b"l", b"L", b"v"}  # Latin letters with diacritics
_ACCENT_SPAN = 50
"""ASCII letters counted as non-English per accented Latin letter (German: 1 in 60)."""
_UKRAINIAN = ("і", "ї", "є")

FEATURE_NAMES: tuple[str, ...] = (
    "text",
    "ascii_word",
    "ascii_letter",
    "digit",
    "punct",
    "punct_run",
    "newline_run",
    "indent_run",
    *(
        feature
        for _, name, _, runs in _SCRIPTS
        for feature in ((f"{name}_char", f"{name}_run") if runs else (f"{name}_char",))
    ),
    "other_char",
    "accented_text_letter",
    "ukrainian_letter",
    "letter_z",
)
_NO_SCRIPT = (0,) * (len(FEATURE_NAMES) - 9)  # ASCII text: latin1_char to ukrainian_letter

# Fitted by bench/calibrate_tokens.py (run it to refit and to see the held-out accuracy).
# Tokens per unit of each feature.
_WEIGHTS: dict[str, float] = {
    "text": 0.1338,
    "ascii_word": 0.4331,
    "ascii_letter": 0.1163,
    "digit": 1.1603,
    "punct": 0.129,
    "punct_run": 0.8868,
    "newline_run": 1.6033,
    "indent_run": 0.6592,
    "latin1_char": 0.0,
    "latin_ext_char": 0.6269,
    "greek_char": 0.3667,
    "greek_run": 0.3499,
    "cyrillic_char": 0.1062,
    "cyrillic_run": 0.9356,
    "hebrew_char": 0.3663,
    "hebrew_run": 0.7541,
    "arabic_char": 0.3887,
    "indic_char": 0.3064,
    "vietnamese_char": 0.0797,
    "kana_char": 0.4523,
    "han_char": 0.6346,
    "han_run": 0.2201,
    "hangul_char": 0.4609,
    "hangul_run": 0.628,
    "fullwidth_char": 0.4696,
    "other_char": 1.4371,
    "accented_text_letter": 0.0288,
    "ukrainian_letter": 0.8939,
    "letter_z": 0.7648,
}
_WEIGHT_VECTOR = tuple(_WEIGHTS[name] for name in FEATURE_NAMES)


def _runs(mask: bytes, symbol: bytes = b"1", before: bytes = b"0") -> int:
    """How many runs of `symbol` the class string has (a run starts after `before`)."""
    return mask.count(before + symbol) + mask.startswith(symbol)


def text_features(text: str) -> tuple[int, ...]:
    """The counts the estimate weighs, in FEATURE_NAMES order (calibration fits on these).

    >>> dict(zip(FEATURE_NAMES, text_features("fooBar(x2y);\\n")))["ascii_word"]
    4
    >>> dict(zip(FEATURE_NAMES, text_features("Grüße")))["accented_text_letter"]
    3
    """
    if not text:
        return (0,) * len(FEATURE_NAMES)
    data = text.encode("utf-8", "surrogatepass")
    case = data.translate(_CASE)
    puncts = data.translate(_PUNCTS)
    # A word starts at a letter after a non-letter, or at an uppercase after a lowercase.
    words = _runs(case, b"a") + _runs(case, b"A") + case.count(b"aA")
    letters = case.count(b"a") + case.count(b"A")
    features = [
        1,
        words,
        letters,
        data.translate(_DIGITS).count(b"1"),
        puncts.count(b"1"),
        _runs(puncts),
        _runs(data.translate(_NEWLINES)),
        _runs(data.translate(_SPACES), b"11"),
    ]
    letter_z = data.count(b"z") + data.count(b"Z")
    if text.isascii():
        return (*features, *_NO_SCRIPT, letter_z)
    scripts = data.translate(_SCRIPT)
    accented = 0
    for symbol, _, _, runs in _SCRIPTS:
        # Most texts use one or two scripts; `in` (memchr) skips the others cheaply.
        chars = scripts.count(symbol) if symbol in scripts else 0
        if symbol in _ACCENTED:
            accented += chars
        features += (chars, _runs(scripts, symbol) if chars else 0) if runs else (chars,)
    ukrainian = sum(map(text.count, _UKRAINIAN)) if b"c" in scripts else 0
    features += [
        scripts.count(b"o"),
        min(letters, _ACCENT_SPAN * accented),
        ukrainian,
        letter_z,
    ]
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
    total: float = sum(map(operator.mul, _WEIGHT_VECTOR, text_features(text)))  # equal lengths
    return max(1, round(total))
