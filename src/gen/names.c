/* Plausible names from a hash (gen_impl.h).
 *
 * A name is a short program of choices driven by a splitmix64 stream seeded with the
 * caller's hash: pick a pattern for the language ("First Surname", "The X Ys", a
 * made-up word of 2-3 syllables with an ending, ...), then fill it from the tables
 * below. The tables are lowercase; words are capitalised by mapping their first
 * character, so a name's lowercase form is a function of its choices and the
 * collision key (sr__name_key) can be computed from the name alone.
 *
 * Pattern spaces are sized so that at the origin's scale (~600k artists) few names
 * collide; the catalog (generate.c) still checks every key and appends " 2", " 3" to
 * later duplicates, which is safe because generated names contain no digits.
 *
 * Only the characters in these tables are case-mapped (ASCII, Latin-1 letters,
 * Cyrillic А-я and Ё/ё); kana have no case and pass through.
 */
#include "gen/gen_impl.h"

#include <string.h>
#include <xxhash.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- tables (lowercase UTF-8) ---- */

static const char *const syl_en[] = {
    "al",  "an",  "ar",  "bel", "ben", "bra", "cal", "car", "cor", "dan", "del", "dor", "el",
    "en",  "er",  "fal", "fen", "gar", "gil", "hal", "har", "jen", "kel", "kin", "lan", "lar",
    "len", "lin", "lo",  "mar", "mel", "mor", "na",  "nel", "nor", "ol",  "or",  "pen", "per",
    "ra",  "ren", "ri",  "ro",  "sa",  "sel", "son", "ta",  "ter", "tha", "tor", "val", "van",
    "ver", "wyn", "za",  "zen", "qua", "xi",  "ly",  "dy",  "bri", "cla", "dre", "fro", "gla",
    "jas", "kro", "mis", "pla", "rus", "sto", "tre", "vin", "wil", "yor", "ash", "ell", "ith",
    "oak", "urn", "ast", "orm", "ick", "und", "bo",  "ki",  "mu",  "te",  "vy",  "pi"};
static const char *const end_en[] = {"",    "",    "",   "a",    "o",    "y",  "s",   "ton",
                                     "ley", "son", "er", "ford", "well", "by", "ick", "en"};
static const char *const first_en[] = {
    "james", "mary",  "john",  "lisa",  "mike",  "anna", "david", "emma",  "paul",  "sara",
    "tom",   "kate",  "chris", "laura", "mark",  "nina", "peter", "julia", "sam",   "grace",
    "alex",  "ruby",  "leo",   "ella",  "max",   "ivy",  "jack",  "zoe",   "owen",  "maya",
    "billy", "janis", "otis",  "etta",  "nick",  "amy",  "ray",   "joni",  "nora",  "eli",
    "frank", "holly", "lou",   "patti", "rufus", "sade", "tina",  "van",   "willie"};
static const char *const adj_en[] = {
    "black",  "electric", "velvet", "silver",  "crystal", "midnight", "golden", "broken",
    "neon",   "wild",     "lost",   "secret",  "hollow",  "burning",  "quiet",  "young",
    "red",    "blue",     "paper",  "iron",    "cosmic",  "sonic",    "lunar",  "savage",
    "gentle", "atomic",   "fuzzy",  "strange", "holy",    "modern",   "arctic", "rusty"};
static const char *const noun_en[] = {
    "wolves",    "echoes",     "machines", "rivers",  "ghosts",    "lights",   "tigers",  "shadows",
    "dreams",    "kings",      "stars",    "horses",  "sparrows",  "lovers",   "mirrors", "rockets",
    "saints",    "giants",     "foxes",    "pilots",  "sisters",   "brothers", "vandals", "heroes",
    "strangers", "monks",      "owls",     "engines", "daughters", "sons",     "bandits", "choir",
    "orchestra", "collective", "trio",     "society"};
static const char *const word_en[] = {
    "love",   "night",  "heart",    "fire",    "rain",    "dream",   "dance",    "home",   "light",
    "summer", "blue",   "stay",     "run",     "forever", "tonight", "baby",     "world",  "time",
    "girl",   "city",   "song",     "days",    "alone",   "gold",    "river",    "sky",    "ocean",
    "road",   "wild",   "free",     "lost",    "slow",    "fall",    "rise",     "star",   "moon",
    "sun",    "shadow", "cold",     "young",   "hold",    "back",    "down",     "again",  "never",
    "feel",   "good",   "sweet",    "little",  "highway", "radio",   "paradise", "honey",  "angel",
    "devil",  "sugar",  "midnight", "morning", "wonder",  "memory",  "glass",    "window", "train",
    "letter", "ghost",  "echo",     "silence", "thunder", "story",   "fever",    "velvet", "crazy"};
static const char *const feat_en[] = {" (Live)",    " (Remix)", " - Remastered", " (Acoustic)",
                                      " (Demo)",    " (Edit)",  " (Radio Edit)", " (Instrumental)",
                                      " (Reprise)", " - Live"};

static const char *const syl_eu[] = {
    "jo",  "sé",  "mü",  "ñe",  "lø",  "bré", "ça",  "ão",  "gö",  "ré",  "vá",  "nu",
    "ri",  "ta",  "lo",  "ber", "sen", "ez",  "ña",  "mé",  "lí",  "kö",  "här", "fjö",
    "dü",  "cé",  "zé",  "gra", "ól",  "ån",  "ün",  "ma",  "vi",  "ro",  "sa",  "bel",
    "chä", "lé",  "dal", "fer", "gar", "hel", "isa", "jön", "kla", "lun", "mar", "nør",
    "pé",  "qui", "ros", "sol", "tür", "ull", "val", "wän", "xé",  "yé",  "zor", "bø"};
static const char *const end_eu[] = {"",     "",    "ez",  "sen",   "ström", "berg", "ini",
                                     "elli", "ová", "ić",  "ault",  "ière",  "mann", "sson",
                                     "eira", "ás",  "ard", "inger", "otti",  "øy"};
static const char *const first_eu[] = {
    "josé",     "maría", "sofía",  "andrés",  "zoë",    "björn",   "søren",  "jürgen",
    "françois", "inés",  "mónica", "joão",    "åsa",    "léa",     "günter", "ramón",
    "noémie",   "håkon", "jérôme", "maël",    "chloé",  "íñigo",   "sigrún", "ólafur",
    "anaïs",    "raúl",  "bärbel", "øystein", "ximena", "thérèse", "mikaël", "dagný"};
static const char *const lead_eu[] = {"los ", "les ", "die ", "la ", "el ", "i ", "de "};
static const char *const word_eu[] = {
    "corazón", "noche",  "amor",   "fuego",   "canción", "été",    "rêve",   "lumière",
    "cœur",    "später", "träume", "über",    "schön",   "hjärta", "sjö",    "natt",
    "mañana",  "sueño",  "vida",   "cielo",   "música",  "niña",   "adiós",  "ciudad",
    "château", "déjà",   "måne",   "søster",  "blå",     "grön",   "öga",    "för",
    "høst",    "ångest", "fête",   "mélodie", "señor",   "año",    "île",    "forêt",
    "größer",  "nächte", "sommar", "løgn",    "øjne",    "città",  "perché", "più"};

static const char *const syl_ru[] = {
    "ка",  "ли",  "на",  "мо",  "ра",  "се",  "ва",  "то",  "ни",  "ко",  "ла",  "ми",  "ре",
    "до",  "ев",  "ов",  "ин",  "ан",  "ёл",  "ша",  "жи",  "цу",  "ры",  "ск",  "ой",  "ий",
    "ль",  "ве",  "бо",  "гу",  "ды",  "зе",  "пи",  "ту",  "фа",  "хо",  "че",  "щу",  "юр",
    "яр",  "эм",  "ост", "бра", "вол", "гор", "дар", "жук", "зин", "кир", "лен", "мар", "нов",
    "пол", "рус", "сол", "тар", "фил", "хал", "чер", "шев", "юн",  "ям"};
static const char *const end_ru[] = {"",     "",   "ов",  "ова",  "ин", "ина", "ский",
                                     "ская", "ев", "ева", "енко", "ук", "ич",  "ян"};
static const char *const first_ru[] = {
    "иван",   "анна",    "мария",  "сергей", "ольга",   "дмитрий",  "наталья", "алексей",
    "елена",  "пётр",    "юлия",   "максим", "татьяна", "григорий", "земфира", "виктор",
    "полина", "егор",    "ксения", "борис",  "андрей",  "светлана", "николай", "вера",
    "олег",   "людмила", "артём",  "дарья",  "фёдор",   "алиса"};
static const char *const word_ru[] = {
    "любовь",    "ночь",  "город",  "звезда",  "небо",       "весна",  "сердце", "дорога",
    "огонь",     "море",  "ветер",  "песня",   "мечта",      "солнце", "зима",   "дождь",
    "последний", "белый", "чёрный", "новый",   "тихий",      "где",    "ты",     "мы",
    "навсегда",  "нет",   "лето",   "кино",    "время",      "звук",   "мама",   "осень",
    "танцы",     "улица", "печаль", "свобода", "электричка", "луна",   "река",   "ёжик"};
static const char *const lead_ru[] = {"группа ", "братья ", "ансамбль ", "квартет "};

static const char *const syl_ja[] = {"ア", "カ", "サ", "タ", "ナ", "ハ", "マ", "ヤ", "ラ", "ワ",
                                     "キ", "シ", "チ", "ミ", "リ", "ク", "ス", "ツ", "ム", "ル",
                                     "ケ", "セ", "テ", "メ", "レ", "コ", "ソ", "ト", "モ", "ロ",
                                     "ン", "ユ", "ヒ", "ジ", "ガ", "ダ", "バ", "パ", "ヨ", "イ",
                                     "ウ", "エ", "オ", "ネ", "ホ", "フ", "ヘ", "ニ", "ヌ", "ノ"};
static const char *const hira_ja[] = {"さ", "く", "ら", "ひ", "か", "り", "な", "つ", "み",
                                      "ゆ", "き", "よ", "る", "そ", "あ", "い", "う", "え",
                                      "お", "は", "ま", "こ", "と", "の", "た", "ね"};
static const char *const word_ja[] = {"さくら",   "なつ",     "ゆめ",
                                      "そら",     "ひかり",   "こころ",
                                      "あめ",     "ほし",     "うみ",
                                      "かぜ",     "はな",     "よる",
                                      "あした",   "きみ",     "ぼく",
                                      "せかい",   "ミライ",   "キセキ",
                                      "ハート",   "メロディ", "トウキョウ",
                                      "サヨナラ", "シグナル", "ドリーム",
                                      "ラブ",     "ソング",   "まつり",
                                      "ふゆ",     "なみだ",   "はじまり",
                                      "えがお",   "ともだち", "ナイト",
                                      "スター",   "レイン",   "あいのうた",
                                      "ゆき",     "つき",     "カレイドスコープ",
                                      "ハミング"};

/* ---- a small deterministic chooser ---- */

typedef struct chooser {
    uint64_t x;
} chooser;

static uint64_t next64(chooser *c) {
    uint64_t z = (c->x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* [0, n) by multiply-high; the bias (n / 2^64) is irrelevant for names. */
static size_t pick(chooser *c, size_t n) {
    return (size_t)(((__uint128_t)next64(c) * n) >> 64);
}

/* True with probability percent / 100. */
static int chance(chooser *c, unsigned percent) {
    return pick(c, 100) < percent;
}

/* ---- a bounded string builder ---- */

#define BUILD_LIMIT (SR__NAME_MAX - 24) /* room for a disambiguator and the NUL */

typedef struct builder {
    char *p;
    size_t n;
    int word_start; /* the next character starts a word: capitalise it */
} builder;

static size_t utf8_len(unsigned char c) {
    return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* Appends s; capitalises a word's first character. Pieces that would not fit are
 * dropped whole, so a name is never cut inside a UTF-8 sequence. */
static void put(builder *b, const char *s) {
    size_t len = strlen(s);
    if (b->n + len > BUILD_LIMIT) return;
    memcpy(b->p + b->n, s, len);
    if (b->word_start && len) sr__name_upper(b->p + b->n, utf8_len((unsigned char)s[0]));
    for (size_t i = 0; i < len; i++) b->word_start = s[i] == ' ' || s[i] == '-';
    b->n += len;
}

/* Appends s without capitalising it (particles such as "the", "of", "no"). */
static void put_raw(builder *b, const char *s) {
    int ws = b->word_start;
    b->word_start = 0;
    put(b, s);
    if (!strlen(s)) b->word_start = ws;
}

#define PICK(c, table) ((table)[pick((c), COUNT(table))])

/* A made-up word of lo..hi syllables from table plus an optional ending. */
static void made_up(builder *b, chooser *c, const char *const *syl, size_t n_syl, int lo, int hi,
                    const char *const *end, size_t n_end) {
    int k = lo + (int)pick(c, (size_t)(hi - lo + 1));
    for (int i = 0; i < k; i++) put(b, syl[pick(c, n_syl)]);
    if (end) put(b, end[pick(c, n_end)]);
}

#define MADE_UP(b, c, syl, lo, hi, end)                                                            \
    made_up((b), (c), (syl), COUNT(syl), (lo), (hi), (end), COUNT(end))
#define MADE_UP0(b, c, syl, lo, hi) made_up((b), (c), (syl), COUNT(syl), (lo), (hi), NULL, 0)

static size_t finish(builder *b) {
    while (b->n && b->p[b->n - 1] == ' ') b->n--;
    b->p[b->n] = 0;
    return b->n;
}

/* ---- artists ---- */

static void artist_en(builder *b, chooser *c) {
    unsigned r = (unsigned)pick(c, 100);
    if (r < 33) { /* First Surname */
        put(b, PICK(c, first_en));
        put(b, " ");
        MADE_UP(b, c, syl_en, 2, 3, end_en);
    } else if (r < 48) { /* The Xyz Wolves */
        put(b, "the ");
        if (chance(c, 50)) put(b, PICK(c, adj_en)), put(b, " ");
        MADE_UP(b, c, syl_en, 2, 3, end_en);
        put(b, " ");
        put(b, PICK(c, noun_en));
    } else if (r < 65) { /* Marwynley */
        MADE_UP(b, c, syl_en, 2, 4, end_en);
    } else if (r < 85) { /* Two words */
        MADE_UP(b, c, syl_en, 1, 3, end_en);
        put(b, " ");
        MADE_UP(b, c, syl_en, 2, 3, end_en);
    } else if (r < 90) { /* DJ Xyz */
        static const char *const lead[] = {"DJ ",  "MC ",     "Lil ",   "Young ",
                                           "Big ", "Sister ", "Doctor "};
        put(b, PICK(c, lead));
        MADE_UP(b, c, syl_en, 2, 3, end_en);
    } else if (r < 95) { /* Xyz & the Wolves */
        if (chance(c, 50)) put(b, PICK(c, first_en)), put(b, " ");
        MADE_UP(b, c, syl_en, 2, 3, end_en);
        put_raw(b, " & the ");
        b->word_start = 1;
        put(b, PICK(c, noun_en));
    } else if (r < 97) { /* Surname, Surname & Surname */
        MADE_UP(b, c, syl_en, 1, 2, end_en);
        put(b, ", ");
        MADE_UP(b, c, syl_en, 1, 2, end_en);
        put(b, " & ");
        MADE_UP(b, c, syl_en, 1, 2, end_en);
    } else { /* Adjective Xyz */
        put(b, PICK(c, adj_en));
        put(b, " ");
        MADE_UP(b, c, syl_en, 2, 3, end_en);
    }
}

static void artist_eu(builder *b, chooser *c) {
    unsigned r = (unsigned)pick(c, 100);
    if (r < 45) {
        put(b, PICK(c, first_eu));
        put(b, " ");
        MADE_UP(b, c, syl_eu, 2, 3, end_eu);
        if (chance(c, 10)) put(b, "-"), MADE_UP(b, c, syl_eu, 1, 2, end_eu);
    } else if (r < 75) {
        MADE_UP(b, c, syl_eu, 3, 4, end_eu);
    } else if (r < 85) {
        put(b, PICK(c, lead_eu));
        MADE_UP(b, c, syl_eu, 3, 4, end_eu);
    } else {
        MADE_UP(b, c, syl_eu, 1, 3, end_eu);
        put(b, " ");
        MADE_UP(b, c, syl_eu, 2, 3, end_eu);
    }
}

static void artist_ru(builder *b, chooser *c) {
    unsigned r = (unsigned)pick(c, 100);
    if (r < 40) {
        put(b, PICK(c, first_ru));
        put(b, " ");
        MADE_UP(b, c, syl_ru, 2, 3, end_ru);
    } else if (r < 75) {
        MADE_UP(b, c, syl_ru, 3, 4, end_ru);
    } else if (r < 85) {
        put(b, PICK(c, lead_ru));
        MADE_UP(b, c, syl_ru, 3, 4, end_ru);
    } else {
        MADE_UP(b, c, syl_ru, 2, 3, end_ru);
        put(b, " ");
        MADE_UP(b, c, syl_ru, 2, 3, end_ru);
    }
}

static void artist_ja(builder *b, chooser *c) {
    unsigned r = (unsigned)pick(c, 100);
    if (r < 45) { /* ヨルシカ */
        MADE_UP0(b, c, syl_ja, 4, 6);
    } else if (r < 65) { /* はなミカ */
        put(b, PICK(c, word_ja));
        MADE_UP0(b, c, syl_ja, 3, 4);
    } else if (r < 85) { /* Person: given family */
        MADE_UP0(b, c, hira_ja, 2, 3);
        put(b, " ");
        MADE_UP0(b, c, syl_ja, 3, 4);
    } else { /* Romanised */
        MADE_UP0(b, c, syl_en, 2, 3);
        put(b, " ");
        MADE_UP0(b, c, syl_ja, 3, 4);
    }
}

size_t sr__name_artist(uint64_t h, int lang, char *out) {
    chooser c = {h};
    builder b = {out, 0, 1};
    switch (lang) {
    case SR__LANG_EU:
        artist_eu(&b, &c);
        break;
    case SR__LANG_RU:
        artist_ru(&b, &c);
        break;
    case SR__LANG_JA:
        artist_ja(&b, &c);
        break;
    default:
        artist_en(&b, &c);
        break;
    }
    return finish(&b);
}

/* ---- tracks and releases ---- */

static void words(builder *b, chooser *c, const char *const *table, size_t n, int k,
                  const char *sep) {
    for (int i = 0; i < k; i++) {
        if (i) put_raw(b, sep), b->word_start = 1;
        put(b, table[pick(c, n)]);
    }
}

static int n_words(chooser *c) {
    unsigned r = (unsigned)pick(c, 100);
    return r < 8 ? 1 : r < 53 ? 2 : r < 85 ? 3 : 4;
}

static void title_en(builder *b, chooser *c) {
    unsigned r = (unsigned)pick(c, 100);
    if (r < 3) { /* "Heroes" */
        put(b, "\"");
        b->word_start = 1;
        put(b, PICK(c, word_en));
        put(b, "\"");
    } else if (r < 6) { /* Hello, Goodbye */
        put(b, PICK(c, word_en));
        put(b, ", ");
        words(b, c, word_en, COUNT(word_en), 1 + (int)pick(c, 2), " ");
    } else if (r < 10) { /* Don't Stop the Rain */
        static const char *const lead[] = {"don't ", "i'm ", "can't ", "you're ", "it's "};
        put(b, PICK(c, lead));
        words(b, c, word_en, COUNT(word_en), 1 + (int)pick(c, 2), " ");
    } else if (r < 18) { /* Song of the Night */
        put(b, PICK(c, word_en));
        put_raw(b, chance(c, 50) ? " of the " : " in the ");
        b->word_start = 1;
        put(b, PICK(c, word_en));
    } else if (r < 21) { /* Rock & Roll */
        put(b, PICK(c, word_en));
        put(b, " & ");
        put(b, PICK(c, word_en));
    } else {
        words(b, c, word_en, COUNT(word_en), n_words(c), " ");
    }
}

static void title(builder *b, chooser *c, int lang) {
    switch (lang) {
    case SR__LANG_EU:
        words(b, c, word_eu, COUNT(word_eu), n_words(c), " ");
        break;
    case SR__LANG_RU:
        words(b, c, word_ru, COUNT(word_ru), n_words(c), " ");
        break;
    case SR__LANG_JA:
        if (chance(c, 40))
            words(b, c, word_ja, COUNT(word_ja), 2, "の");
        else if (chance(c, 50))
            words(b, c, word_ja, COUNT(word_ja), 1, "");
        else
            put(b, PICK(c, word_ja)), put(b, " "), title_en(b, c);
        break;
    default:
        title_en(b, c);
        break;
    }
}

size_t sr__name_track(uint64_t h, int lang, char *out) {
    chooser c = {h};
    builder b = {out, 0, 1};
    title(&b, &c, lang);
    unsigned r = (unsigned)pick(&c, 1000);
    if (r < 90) {
        put(&b, PICK(&c, feat_en));
    } else if (r < 100) { /* a featured guest */
        put_raw(&b, " (feat. ");
        b.word_start = 1;
        put(&b, PICK(&c, first_en));
        put(&b, " ");
        MADE_UP(&b, &c, syl_en, 1, 2, end_en);
        put(&b, ")");
    }
    return finish(&b);
}

size_t sr__name_release(uint64_t h, int lang, char *out) {
    chooser c = {h};
    builder b = {out, 0, 1};
    unsigned r = (unsigned)pick(&c, 100);
    if (r < 8) {
        static const char *const kind[] = {"Greatest Hits", "Live at the ", "The Best Of",
                                           "B-Sides",       "Anthology",    "Demos"};
        size_t k = pick(&c, COUNT(kind));
        put(&b, kind[k]);
        if (k == 1) put(&b, PICK(&c, word_en));
    } else {
        title(&b, &c, lang);
        if (r < 14)
            put(&b, " EP");
        else if (r < 18)
            put(&b, " (Deluxe Edition)");
    }
    return finish(&b);
}

/* ---- case mapping and keys ---- */

void sr__name_lower(char *s, size_t n) {
    unsigned char *p = (unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c >= 'A' && c <= 'Z') {
            p[i] = (unsigned char)(c + 32);
        } else if (c == 0xc3 && i + 1 < n) {
            unsigned char d = p[i + 1];
            if (d >= 0x80 && d <= 0x9e && d != 0x97) p[i + 1] = (unsigned char)(d + 0x20);
            i++;
        } else if (c == 0xd0 && i + 1 < n) {
            unsigned char d = p[i + 1];
            if (d >= 0x90 && d <= 0x9f)
                p[i + 1] = (unsigned char)(d + 0x20);
            else if (d >= 0xa0 && d <= 0xaf)
                p[i] = 0xd1, p[i + 1] = (unsigned char)(d - 0x20);
            else if (d == 0x81)
                p[i] = 0xd1, p[i + 1] = 0x91;
            i++;
        } else if (c >= 0xc0) {
            i += utf8_len(c) - 1;
        }
    }
}

void sr__name_upper(char *s, size_t n) {
    unsigned char *p = (unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c >= 'a' && c <= 'z') {
            p[i] = (unsigned char)(c - 32);
        } else if (c == 0xc3 && i + 1 < n) {
            unsigned char d = p[i + 1];
            if (d >= 0xa0 && d <= 0xbe && d != 0xb7) p[i + 1] = (unsigned char)(d - 0x20);
            i++;
        } else if (c == 0xd0 && i + 1 < n) {
            unsigned char d = p[i + 1];
            if (d >= 0xb0 && d <= 0xbf) p[i + 1] = (unsigned char)(d - 0x20);
            i++;
        } else if (c == 0xd1 && i + 1 < n) {
            unsigned char d = p[i + 1];
            if (d >= 0x80 && d <= 0x8f)
                p[i] = 0xd0, p[i + 1] = (unsigned char)(d + 0x20);
            else if (d == 0x91)
                p[i] = 0xd0, p[i + 1] = 0x81;
            i++;
        } else if (c >= 0xc0) {
            i += utf8_len(c) - 1;
        }
    }
}

/* Base letters of U+00C0..U+00FF ('_' for the two signs, which are dropped). */
static const char latin1_base[64] = "aaaaaaaceeeeiiiidnooooo_ouuuuyts"
                                    "aaaaaaaceeeeiiiidnooooo_ouuuuyty";

uint64_t sr__name_key(const char *s, size_t n) {
    char low[SR__NAME_MAX], key[SR__NAME_MAX];
    if (n >= SR__NAME_MAX) n = SR__NAME_MAX - 1;
    memcpy(low, s, n);
    sr__name_lower(low, n);
    size_t i = 0, k = 0;
    if (n > 4 && !memcmp(low, "the ", 4)) i = 4;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)low[i];
        if (c < 0x80) {
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) key[k++] = (char)c;
        } else if (c == 0xc3 && i + 1 < n) {
            char base = latin1_base[(unsigned char)low[i + 1] & 0x3f];
            if (base != '_') key[k++] = base;
            i++;
        } else {
            key[k++] = (char)c; /* other scripts as they are */
        }
    }
    return XXH3_64bits(key, k);
}
