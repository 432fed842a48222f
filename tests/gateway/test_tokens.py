"""gateway.tokens: the fast estimate against the real Gemma tokenizer, and its invariants.

The bounds come from bench/calibrate_tokens.py's held-out results (samples >= 200 chars):
p95 absolute error 9% for English prose and code, 6% for JSON, 17% for other languages
(German, Russian and Chinese: worst 15%, 16% and 16%). The bounds add a margin: 15% for
English, code and JSON, 25% for other languages.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway import tokens
from gateway.embedded import model_path
from gateway.tokens import (
    BOS,
    MESSAGE_OVERHEAD_TOKENS,
    REPLY_PRIMER_TOKENS,
    estimate_text_tokens,
)

Tokenize = Callable[[str, bool], int]

PROSE = (
    "The gateway sits between chat clients and a handful of local model servers. When a "
    "request arrives, it looks at what the request needs: how long the prompt is, whether "
    "it carries images or audio, and which model the client asked for. Then it picks the "
    "smallest backend that can serve it well, and falls back to a larger one when the first "
    "choice is busy or missing. None of this is visible to the client, which simply sees an "
    "OpenAI-compatible endpoint that answers quickly and rarely fails."
)

PYTHON = '''\
def merge_intervals(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping closed intervals; the result is sorted by start."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
'''

JSON = json.dumps(
    {
        "model": "gemma-3-270m",
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "List three prime numbers above 100."},
        ],
        "temperature": 0.2,
        "max_tokens": 256,
        "stream": False,
        "metadata": {"request_id": "req_8f3a2c91", "retries": 0, "tags": ["eval", "smoke"]},
    },
    indent=2,
)

GERMAN = (
    "Die Stadtbibliothek bleibt wegen Renovierungsarbeiten bis Ende des Monats geschlossen. "
    "Ausgeliehene Bücher können während dieser Zeit im Rathaus zurückgegeben werden, und die "
    "Leihfristen werden automatisch verlängert. Für dringende Anfragen steht das Personal "
    "montags bis freitags zwischen neun und zwölf Uhr telefonisch zur Verfügung. Wir danken "
    "allen Leserinnen und Lesern für ihre Geduld und freuen uns auf die Wiedereröffnung."
)

CHINESE = (
    "城市图书馆因装修将关闭至月底。在此期间，借出的图书可以在市政厅归还，借阅期限将自动延长。"
    "如有紧急问题，工作人员周一至周五上午九点到十二点可通过电话提供帮助。"
    "我们感谢所有读者的耐心，并期待图书馆重新开放。新的阅览室将配备更多座位和更好的照明。"
)

RUSSIAN = (
    "Городская библиотека закрыта на ремонт до конца месяца. В это время взятые книги можно "
    "вернуть в здании администрации, а сроки выдачи будут продлены автоматически. По срочным "
    "вопросам сотрудники доступны по телефону с понедельника по пятницу с девяти до двенадцати "
    "часов. Мы благодарим всех читателей за терпение и ждём новой встречи в обновлённых залах."
)

SAMPLES = {
    "english": (PROSE, 0.15),
    "python": (PYTHON, 0.15),
    "json": (JSON, 0.15),
    "german": (GERMAN, 0.25),
    "chinese": (CHINESE, 0.25),
    "russian": (RUSSIAN, 0.25),
}


@pytest.fixture(scope="module")
def tokenize() -> Tokenize:
    """The real tokenizer (llama.cpp, vocabulary only): len(tokens) of text, special or not."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(model_path()), vocab_only=True, verbose=False)
    return lambda text, special=False: len(
        llm.tokenize(text.encode(), add_bos=False, special=special)
    )


@pytest.mark.engine
@pytest.mark.parametrize("name", SAMPLES)
def test_estimate_is_close_to_the_real_tokenizer(name: str, tokenize: Tokenize) -> None:
    text, bound = SAMPLES[name]
    real = tokenize(text, False)
    estimate = estimate_text_tokens(text)
    assert abs(estimate - real) <= bound * real, (name, estimate, real)


@pytest.mark.engine
def test_chat_markup_constants_match_the_tokenizer(tokenize: Tokenize) -> None:
    content = "What is the capital of France?"
    for role in ("user", "model", "system"):
        turn = f"<start_of_turn>{role}\n{content}<end_of_turn>\n"
        assert tokenize(turn, True) - tokenize(content, False) == MESSAGE_OVERHEAD_TOKENS
    assert tokenize("<start_of_turn>model\n", True) == REPLY_PRIMER_TOKENS
    assert tokenize("<bos>", True) == BOS


@pytest.mark.engine
@pytest.mark.parametrize("text", [" ", "  ", "\n", "\n\n", "\t", "    ", " \n", "\n    \n"])
def test_whitespace_only_is_small_and_close(text: str, tokenize: Tokenize) -> None:
    estimate = estimate_text_tokens(text)
    assert 1 <= estimate <= 4
    assert abs(estimate - tokenize(text, False)) <= 1


def test_empty_is_zero() -> None:
    assert estimate_text_tokens("") == 0
    assert tokens.text_features("") == (0,) * len(tokens.FEATURE_NAMES)


@pytest.mark.parametrize("name", SAMPLES)
def test_longer_text_of_the_same_kind_is_more_tokens(name: str) -> None:
    text = SAMPLES[name][0]
    half = text[: text.rindex(" ", 0, len(text) // 2)] if " " in text else text[: len(text) // 2]
    counts = [estimate_text_tokens(t) for t in (text[:40], half, text, text * 2, text * 8)]
    assert counts == sorted(set(counts)), counts
    assert counts[-1] == pytest.approx(8 * counts[2], rel=0.02)


def test_weights_are_non_negative_and_cover_every_feature() -> None:
    """Non-negative weights make the estimate monotonic in every count (see below)."""
    assert set(tokens._WEIGHTS) == set(tokens.FEATURE_NAMES)
    assert all(w >= 0 for w in tokens._WEIGHTS.values())


@given(st.text(min_size=1), st.text())
def test_appending_never_lowers_the_estimate(text: str, more: str) -> None:
    assert 1 <= estimate_text_tokens(text) <= estimate_text_tokens(text + more)


@given(st.text(min_size=1, max_size=200))
def test_estimate_is_bounded_by_a_few_tokens_per_character(text: str) -> None:
    assert 1 <= estimate_text_tokens(text) <= 4 * len(text) + 1
