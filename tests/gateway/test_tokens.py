"""gateway.core.tokens: the fast estimate against the real Gemma tokenizer, and its invariants.

Issue 7 asks for every language and kind of text within ±10% of the real tokenizer. Each
sample below is checked against that bound. The prose was written for these tests (a
notice, a story, instructions: three short paragraphs per language, as one paragraph alone
can be 15-20% off, see bench/calibrate_tokens.py's p95) and is not in the calibration
corpus, so this is a held-out check; the code and JSON are this file's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core import tokens
from gateway.core.tokens import (
    BOS,
    MESSAGE_OVERHEAD_TOKENS,
    REPLY_PRIMER_TOKENS,
    estimate_text_tokens,
)
from gateway.embedded import model_path

Tokenize = Callable[[str, bool], int]

BOUND = 0.10
"""Largest allowed |estimate - real| / real for each sample (issue 7)."""

ENGLISH = (
    "The gateway sits between chat clients and a handful of local model servers. When a "
    "request arrives, it looks at what the request needs: how long the prompt is, "
    "whether it carries images or audio, and which model the client asked for. Then it "
    "picks the smallest backend that can serve it well, and falls back to a larger one "
    "when the first choice is busy or missing.\n\n"
    "Our neighbours planted an apple tree the spring their daughter was born. Twenty "
    "years later it shades half the garden, and every October the whole street helps "
    "with the harvest: some fruit is pressed into juice, some is stored in the cellar, "
    "and the bruised ones go to the horses at the farm down the road.\n\n"
    "To install the update, close all open programs, download the package from the "
    "official website and run the installer. If an error message appears, restart the "
    "computer and try again; if the problem persists, contact support and attach the log "
    "file."
)

GERMAN = (
    "Die Stadtbibliothek bleibt wegen Renovierungsarbeiten bis Ende des Monats "
    "geschlossen. Ausgeliehene Bücher können während dieser Zeit im Rathaus "
    "zurückgegeben werden, und die Leihfristen werden automatisch verlängert. Für "
    "dringende Anfragen steht das Personal montags bis freitags zwischen neun und zwölf "
    "Uhr telefonisch zur Verfügung.\n\n"
    "Unsere Nachbarn haben im Frühjahr, als ihre Tochter geboren wurde, einen Apfelbaum "
    "gepflanzt. Zwanzig Jahre später beschattet er den halben Garten, und jeden Oktober "
    "hilft die ganze Straße bei der Ernte: Ein Teil des Obstes wird zu Saft gepresst, "
    "ein Teil im Keller gelagert, und die angeschlagenen Äpfel bekommen die Pferde vom "
    "Hof.\n\n"
    "Um das Update zu installieren, schließen Sie alle geöffneten Programme, laden Sie "
    "das Paket von der offiziellen Webseite herunter und starten Sie das "
    "Installationsprogramm. Erscheint eine Fehlermeldung, starten Sie den Rechner neu "
    "und versuchen Sie es erneut; besteht das Problem weiterhin, wenden Sie sich an den "
    "Support und hängen Sie die Protokolldatei an."
)

FRENCH = (
    "La bibliothèque municipale restera fermée pour travaux jusqu'à la fin du mois. Les "
    "livres empruntés pourront être rendus à la mairie pendant cette période, et les "
    "durées de prêt seront prolongées automatiquement. Pour toute demande urgente, le "
    "personnel reste joignable par téléphone du lundi au vendredi, de neuf heures à midi.\n\n"
    "Nos voisins ont planté un pommier au printemps où leur fille est née. Vingt ans "
    "plus tard, il ombrage la moitié du jardin, et chaque octobre toute la rue participe "
    "à la récolte : une partie des fruits est pressée en jus, une autre rangée à la "
    "cave, et les pommes abîmées vont aux chevaux de la ferme voisine.\n\n"
    "Pour installer la mise à jour, fermez tous les programmes ouverts, téléchargez le "
    "paquet depuis le site officiel et lancez le programme d'installation. Si un message "
    "d'erreur s'affiche, redémarrez l'ordinateur et réessayez ; si le problème persiste, "
    "contactez l'assistance en joignant le fichier journal."
)

SPANISH = (
    "La biblioteca municipal permanecerá cerrada por obras hasta finales de mes. Los "
    "libros prestados podrán devolverse en el ayuntamiento durante este tiempo, y los "
    "plazos de préstamo se prolongarán automáticamente. Para consultas urgentes, el "
    "personal atiende por teléfono de lunes a viernes, de nueve a doce.\n\n"
    "Nuestros vecinos plantaron un manzano la primavera en que nació su hija. Veinte "
    "años después da sombra a medio jardín, y cada octubre toda la calle ayuda con la "
    "cosecha: parte de la fruta se convierte en zumo, parte se guarda en el sótano, y "
    "las manzanas golpeadas son para los caballos de la granja de al lado.\n\n"
    "Para instalar la actualización, cierre todos los programas abiertos, descargue el "
    "paquete desde el sitio oficial y ejecute el instalador. Si aparece un mensaje de "
    "error, reinicie el ordenador e inténtelo de nuevo; si el problema continúa, póngase "
    "en contacto con el servicio técnico y adjunte el archivo de registro."
)

POLISH = (
    "Biblioteka miejska będzie zamknięta z powodu remontu do końca miesiąca. Wypożyczone "
    "książki można w tym czasie zwracać w ratuszu, a terminy wypożyczeń zostaną "
    "automatycznie przedłużone. W pilnych sprawach pracownicy są dostępni telefonicznie "
    "od poniedziałku do piątku w godzinach od dziewiątej do dwunastej.\n\n"
    "Nasi sąsiedzi posadzili jabłoń wiosną, kiedy urodziła się ich córka. Dwadzieścia "
    "lat później drzewo ocienia pół ogrodu, a każdego października cała ulica pomaga "
    "przy zbiorach: część owoców trafia do tłoczni, część do piwnicy, a obite jabłka "
    "dostają konie z pobliskiego gospodarstwa.\n\n"
    "Aby zainstalować aktualizację, zamknij wszystkie otwarte programy, pobierz pakiet z "
    "oficjalnej strony i uruchom instalator. Jeśli pojawi się komunikat o błędzie, "
    "uruchom komputer ponownie i spróbuj jeszcze raz; jeśli problem nie ustąpi, "
    "skontaktuj się z pomocą techniczną i dołącz plik dziennika."
)

RUSSIAN = (
    "Городская библиотека закрыта на ремонт до конца месяца. В это время взятые книги "
    "можно вернуть в здании администрации, а сроки выдачи будут продлены автоматически. "
    "По срочным вопросам сотрудники доступны по телефону с понедельника по пятницу с "
    "девяти до двенадцати часов.\n\n"
    "Наши соседи посадили яблоню весной, когда родилась их дочь. Двадцать лет спустя она "
    "затеняет половину сада, и каждый октябрь вся улица помогает собирать урожай: часть "
    "яблок отжимают на сок, часть убирают в погреб, а побитые плоды отдают лошадям с "
    "соседней фермы.\n\n"
    "Чтобы установить обновление, закройте все открытые программы, скачайте пакет с "
    "официального сайта и запустите установщик. Если появится сообщение об ошибке, "
    "перезагрузите компьютер и попробуйте снова; если проблема не исчезнет, обратитесь в "
    "службу поддержки и приложите файл журнала."
)

UKRAINIAN = (
    "Міська бібліотека зачинена на ремонт до кінця місяця. У цей час позичені книжки "
    "можна повернути до міської ради, а терміни користування буде подовжено автоматично. "
    "З нагальних питань працівники доступні телефоном з понеділка по п'ятницю з дев'ятої "
    "до дванадцятої.\n\n"
    "Наші сусіди посадили яблуню навесні, коли народилася їхня донька. Через двадцять "
    "років вона затіняє половину саду, і щожовтня вся вулиця допомагає збирати врожай: "
    "частину яблук віджимають на сік, частину ховають у льох, а побиті плоди віддають "
    "коням із сусідньої ферми.\n\n"
    "Щоб установити оновлення, закрийте всі відкриті програми, завантажте пакет з "
    "офіційного сайту й запустіть інсталятор. Якщо з'явиться повідомлення про помилку, "
    "перезавантажте комп'ютер і спробуйте ще раз; якщо проблема не зникне, зверніться до "
    "служби підтримки та додайте файл журналу."
)

GREEK = (
    "Η δημοτική βιβλιοθήκη θα παραμείνει κλειστή λόγω εργασιών ανακαίνισης μέχρι το "
    "τέλος του μήνα. Τα δανεισμένα βιβλία μπορούν να επιστραφούν στο δημαρχείο, και οι "
    "προθεσμίες δανεισμού θα παραταθούν αυτόματα. Για επείγοντα θέματα το προσωπικό "
    "είναι διαθέσιμο τηλεφωνικά από Δευτέρα έως Παρασκευή, από τις εννέα έως τις δώδεκα.\n\n"
    "Οι γείτονές μας φύτεψαν μια μηλιά την άνοιξη που γεννήθηκε η κόρη τους. Είκοσι "
    "χρόνια αργότερα σκιάζει τον μισό κήπο, και κάθε Οκτώβριο όλη η γειτονιά βοηθά στη "
    "συγκομιδή: μέρος των καρπών γίνεται χυμός, μέρος αποθηκεύεται στο κελάρι, και τα "
    "χτυπημένα μήλα τα τρώνε τα άλογα του διπλανού αγροκτήματος.\n\n"
    "Για να εγκαταστήσετε την ενημέρωση, κλείστε όλα τα ανοιχτά προγράμματα, κατεβάστε "
    "το πακέτο από τον επίσημο ιστότοπο και εκτελέστε το πρόγραμμα εγκατάστασης. Αν "
    "εμφανιστεί μήνυμα σφάλματος, επανεκκινήστε τον υπολογιστή και δοκιμάστε ξανά· αν το "
    "πρόβλημα παραμένει, επικοινωνήστε με την υποστήριξη και επισυνάψτε το αρχείο "
    "καταγραφής."
)

JAPANESE = (
    "市立図書館は改装工事のため、今月末まで休館いたします。期間中、貸出中の本は市役所で返"
    "却することができ、貸出期限は自動的に延長されます。お急ぎのご用件は、月曜日から金曜日"
    "の午前九時から十二時まで、お電話で職員がお受けします。\n\n"
    "隣の家では、娘さんが生まれた春にりんごの木を植えました。二十年たった今では庭の半分に"
    "影を落とし、毎年十月になると通りの皆で収穫を手伝います。実の一部はジュースに、一部は"
    "地下室にしまわれ、傷のついたものは近くの農場の馬たちのおやつになります。\n\n"
    "アップデートをインストールするには、開いているプログラムをすべて閉じ、公式サイトから"
    "パッケージをダウンロードしてインストーラーを実行してください。エラーメッセージが表示"
    "された場合は、コンピューターを再起動してもう一度お試しください。問題が解決しない場合"
    "は、ログファイルを添えてサポートにお問い合わせください。"
)

CHINESE = (
    "城市图书馆因装修将关闭至月底。在此期间，借出的图书可以在市政厅归还，借阅期限将自动延"
    "长。如有紧急问题，工作人员周一至周五上午九点到十二点可通过电话提供帮助。\n\n"
    "邻居在女儿出生的那年春天种下了一棵苹果树。二十年后，它的树荫遮住了半个院子，每年十月"
    "整条街的人都来帮忙采摘：一部分苹果榨成果汁，一部分存进地窖，碰伤的就送给附近农场的马"
    "吃。\n\n"
    "要安装更新，请关闭所有打开的程序，从官方网站下载软件包并运行安装程序。如果出现错误信"
    "息，请重新启动计算机后再试一次；如果问题仍然存在，请联系技术支持并附上日志文件。"
)

KOREAN = (
    "시립 도서관은 보수 공사로 이달 말까지 휴관합니다. 기간 중 대출한 책은 시청에서 "
    "반납할 수 있으며, 대출 기한은 자동으로 연장됩니다. 급한 문의는 월요일부터 "
    "금요일까지 오전 아홉 시부터 열두 시까지 전화로 받습니다.\n\n"
    "이웃집은 딸이 태어난 해 봄에 사과나무를 심었다. 이십 년이 지난 지금 그 나무는 "
    "마당의 절반을 그늘지게 하고, 해마다 시월이면 온 동네 사람들이 수확을 돕는다. 사과 "
    "일부는 주스로 짜고 일부는 지하실에 보관하며, 흠집 난 것은 근처 농장의 말들에게 준다.\n\n"
    "업데이트를 설치하려면 열려 있는 프로그램을 모두 닫고 공식 웹사이트에서 패키지를 "
    "내려받은 뒤 설치 프로그램을 실행하십시오. 오류 메시지가 나타나면 컴퓨터를 다시 "
    "시작한 후 다시 시도하고, 문제가 계속되면 로그 파일을 첨부하여 지원팀에 문의하십시오."
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


class LRUCache:
    """A dict that forgets the least recently used key once it holds `capacity` keys."""

    def __init__(self, capacity: int = 128) -> None:
        self.capacity = capacity
        self._data: OrderedDict[str, bytes] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        if key not in self._data:
            return None
        self._data.move_to_end(key)
        return self._data[key]
'''

JAVASCRIPT = """\
export async function fetchJson(url, { retries = 3, timeoutMs = 5000 } = {}) {
  for (let attempt = 1; attempt <= retries; attempt++) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await fetch(url, { signal: controller.signal });
      if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
      return await response.json();
    } catch (err) {
      if (attempt === retries) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
    } finally {
      clearTimeout(timer);
    }
  }
}
"""

JSON_REQUEST = json.dumps(
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

JSON_RECORDS = json.dumps(
    [
        {"id": 1042, "name": "Ada Lovelace", "email": "ada@example.org", "active": True,
         "roles": ["admin", "editor"], "last_login": "2024-03-18T09:41:07Z", "score": 97.5},
        {"id": 1043, "name": "Alan Turing", "email": "alan@example.org", "active": False,
         "roles": ["viewer"], "last_login": None, "score": 88.25},
        {"id": 1044, "name": "Grace Hopper", "email": "grace@example.org", "active": True,
         "roles": ["editor"], "last_login": "2024-03-19T17:02:55Z", "score": 91.0},
    ]
)  # fmt: skip

SAMPLES = {
    "english": ENGLISH,
    "german": GERMAN,
    "french": FRENCH,
    "spanish": SPANISH,
    "polish": POLISH,
    "russian": RUSSIAN,
    "ukrainian": UKRAINIAN,
    "greek": GREEK,
    "japanese": JAPANESE,
    "chinese": CHINESE,
    "korean": KOREAN,
    "python": PYTHON,
    "javascript": JAVASCRIPT,
    "json request": JSON_REQUEST,
    "json records": JSON_RECORDS,
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
def test_estimate_is_within_ten_percent_of_the_real_tokenizer(
    name: str, tokenize: Tokenize
) -> None:
    real = tokenize(SAMPLES[name], False)
    estimate = estimate_text_tokens(SAMPLES[name])
    assert abs(estimate - real) <= BOUND * real, (name, estimate, real)


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
    text = SAMPLES[name]
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
