"""Everyday prose written for the token calibration (bench/calibrate_tokens.py).

The same eight short texts (weather, a restaurant, a career, a meeting, a holiday, a phone,
a train trip, a recipe) in each language. What this machine has in other languages is
technical (man pages, UI strings), whose vocabulary the tokenizer covers better than
everyday words: everyday Japanese is about 0.56 tokens per character, man-page paragraphs
without ASCII 0.48; Chinese 0.66 and 0.60.
"""

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
