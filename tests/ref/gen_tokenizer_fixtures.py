#!/usr/bin/env python3
"""gen_tokenizer_fixtures.py — reference fixtures for tests/test_tokenizer.c,
and the Unicode exception tables of src/text/bert_norm.c, from Hugging Face
`tokenizers` (the reference: Tokenizer.from_file on the model's tokenizer.json,
padding disabled, its own truncation, add_special_tokens=True unless a case says
otherwise).

    .venv/bin/python tests/ref/gen_tokenizer_fixtures.py            # everything
    .venv/bin/python tests/ref/gen_tokenizer_fixtures.py --show-codepoints 0x1F900 0x1F910
    .venv/bin/python tests/ref/gen_tokenizer_fixtures.py --show-random 17

Writes
  src/text/bert_unicode_tables.h          where the reference's character
        classes differ from utf8proc's (found by asking the reference about every
        codepoint; see "Unicode tables" below)
  tests/fixtures/tokenizer/cases.txt      full ids: adversarial strings and a
        sample of the data set texts
  tests/fixtures/tokenizer/extra_added.json, added_cases.txt  added tokens
        with lstrip / rstrip / single_word / normalized, and their ids
  tests/fixtures/tokenizer/variants.json, variants.txt  ids under edited
        tokenizer.json settings (truncation Left, cased, no clean_text, ...)
  tests/fixtures/tokenizer/data_digest.txt  FNV-1a digests of the ids of every
        text of every ../shared/data/*/*.csv, per chunk of 64 rows
  tests/fixtures/tokenizer/random.txt     a digest per random string (the C test
        regenerates the strings with the same generator)
  tests/fixtures/tokenizer/codepoints.txt a digest per block of 4096 codepoints
        of the words (normalised + pre-tokenised) and ids of two texts built
        around each codepoint

Digest layout (shared with the C test): 64-bit FNV-1a (basis
0xcbf29ce484222325, prime 0x100000001b3) over, for each text in order, each id
as a little-endian int32 followed by int32 -1. For words: each word's UTF-8
bytes followed by byte 0xFF, and byte 0xFE after each text.

Needs tokenizers (0.23.3 was used), transformers (for the vocab.txt check) and
libutf8proc.so.2 (through ctypes: the exception tables are relative to the
utf8proc the C code links).
"""
import argparse
import csv
import ctypes
import glob
import os
import struct
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODEL = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
FIX = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
TABLES = os.path.join(ROOT, "src", "text", "bert_unicode_tables.h")

FNV_BASIS = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
M64 = (1 << 64) - 1
CHUNK = 64            # data rows per digest line
CP_BLOCK = 4096       # codepoints per digest line
RANDOM_SEED = 0x7CF2024
RANDOM_COUNT = 2000


def fnv(data, h=FNV_BASIS):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & M64
    return h


def ids_bytes(ids):
    return struct.pack("<%di" % (len(ids) + 1), *ids, -1)


def words_bytes(words):
    return b"".join(w.encode("utf-8") + b"\xff" for w in words) + b"\xfe"


def load_tokenizer():
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
    tok.no_padding()
    return tok


# ---- splitmix64 random strings (mirrored in tests/test_tokenizer.c) ---------

class SplitMix64:
    def __init__(self, seed):
        self.s = seed & M64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


R_WORDS = ["the", "card", "payment", "Hello", "WORLD", "na\u00efve", "caf\u00e9", "don't", "e-mail",
           "\u00fcber", "Stra\u00dfe", "\u0130stanbul", "\u03a3\u03bf\u03c6\u03af\u03b1", "\u041c\u043e\u0441\u043a\u0432\u0430",
           "\u6771\u4eac", "\ud55c\uad6d\uc5b4", "unaffable", "1,000.50", "http://x.io/a?b=c", "[MASK]",
           "[CLS]", "[SEP]", "[UNK]", "[PAD]", "[mask]", "##ing", "\u0e20\u0e32\u0e29\u0e32", "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
           "\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F1EB\U0001F1F7", "a\u0301"]
R_PUNCT = "0123456789.,!?'\"-()[]#@$%&*/:;<>=_~`^{}|\\+"
R_SPACE = [0x09, 0x0A, 0x0D, 0x0B, 0x0C, 0x85, 0xA0, 0x2028, 0x3000, 0x200B, 0x200D, 0xFEFF,
           0x00, 0x01, 0x7F, 0x1F, 0xFFFD, 0x2060, 0x180E, 0xAD]


def random_string(i):
    """The i-th random test string. Keep in step with random_string() in test_tokenizer.c."""
    g = SplitMix64(RANDOM_SEED + i)
    n = 1 + g.next() % 48
    out = []
    for _ in range(n):
        r = g.next() % 100
        if r < 25:
            out.append(chr(ord("a") + g.next() % 26) if g.next() % 4 else chr(ord("A") + g.next() % 26))
        elif r < 37:
            out.append(" ")
        elif r < 47:
            out.append(R_WORDS[g.next() % len(R_WORDS)])
        elif r < 55:
            out.append(R_PUNCT[g.next() % len(R_PUNCT)])
        elif r < 60:
            out.append(chr(0xC0 + g.next() % (0x250 - 0xC0)))
        elif r < 65:
            out.append(chr(0x300 + g.next() % 0x70))
        elif r < 68:
            out.append(chr(0x4E00 + g.next() % 0x5200))
        elif r < 70:
            out.append(chr(0xAC00 + g.next() % 11172))
        elif r < 73:
            out.append(chr(0x1F300 + g.next() % 0x800))
        elif r < 78:
            out.append(chr(R_SPACE[g.next() % len(R_SPACE)]))
        elif r < 82:
            out.append(chr(0x370 + g.next() % 0x190))
        elif r < 90:
            c = g.next() % 0x10000
            out.append(chr(c + 0x800 if 0xD800 <= c <= 0xDFFF else c))
        else:
            c = g.next() % 0x110000
            out.append(chr(c + 0x800 if 0xD800 <= c <= 0xDFFF else c))
    return "".join(out)


# ---- the per-codepoint texts (mirrored in tests/test_tokenizer.c) ------------

def cp_text_words(c):
    """Normalised + pre-tokenised words of this text are compared."""
    s = chr(c)
    return "A" + s + "b\U0001D165" + s + s + "\U0001D165 " + s


def cp_text_ids(c):
    """Ids (with specials) of this text are compared."""
    s = chr(c)
    return s + " x" + s + "s"


def codepoints():
    return [c for c in range(0x110000) if not (0xD800 <= c <= 0xDFFF)]


# ---- adversarial strings ------------------------------------------------------

def adversarial():
    """(text, add_special, max_len) triples; max_len 0 = the tokenizer's own."""
    A = []
    plain = [
        "", " ", "     ", "\t", "\n", "\r\n", " \t\r\n ", "a", "A", "hello world", "Hello, World!",
        "I can't find my card... where is it?!", "What's the ETA?", "  leading and trailing  ",
        # emoji
        "\U0001F600", "I \u2764\ufe0f NY", "\U0001F44D\U0001F3FD ok", "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 family",
        "\U0001F1EB\U0001F1F7\U0001F1E9\U0001F1EA flags", "\U0001F3F3\ufe0f\u200d\U0001F308", "\U0001F970\U0001FAE0\U0001FAF6",
        "smile\U0001F642smile", "#\ufe0f\u20e3 keycap", "\u263a\u263b\u2639",
        # combining accents, NFC vs NFD
        "caf\u00e9", "cafe\u0301", "na\u00efve", "nai\u0308ve", "\u00c5ngstr\u00f6m", "A\u030angstro\u0308m",
        "\u0301\u0301\u0301", "a\u0301\u0302\u0303\u0304\u0305\u0306\u0307", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333",
        "\u1e9b\u0323", "\u0344", "\u1f82", "\u01c4\u01c5\u01c6", "\u212b\u2126\u212a",
        # CJK, Hangul, Thai, Arabic, Hebrew, Devanagari, mixed
        "\u4f60\u597d\u4e16\u754c", "\u6771\u4eac\u90fd\u306b\u4f4f\u3093\u3067\u3044\u307e\u3059",
        "\u3053\u3093\u306b\u3061\u306f\u30ab\u30bf\u30ab\u30ca", "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8", "\u1100\u1161\u11a8",
        "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22", "\u0627\u0644\u0644\u063a\u0629 \u0627\u0644\u0639\u0631\u0628\u064a\u0629",
        "\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd", "\u0939\u093f\u0928\u094d\u0926\u0940", "abc\u4e2d\u6587def",
        "Moscow \u041c\u043e\u0441\u043a\u0432\u0430 \u6771\u4eac 2024", "\U00020000\U0002a6df\U0002b739\U0002b820\U0002cea1\U0002ebe0\U00030000",
        "\uf900\uf9ff\ufa6d\U0002f800", "\u3400\u4dbf\u9fff\ua000",
        # zero-width and format characters
        "zero\u200bwidth", "zw\u200cnj\u200dj", "\ufeffbom", "word\u2060joiner", "soft\u00adhyphen",
        "\u200e\u200f\u202a\u202e", "\u180emongolian", "\U000e0041\U000e007f tags",
        # control characters
        "a\x01b", "a\x7fb", "a\x85b", "a\x00b", "\x1c\x1d\x1e\x1f", "a\x0bb\x0cc", "tab\there", "line\nbreak",
        "cr\rreturn", "\u2028\u2029", "nbsp\u00a0here", "ideo\u3000space", "\u2000\u2001\u200a|",
        # private use, unassigned, noncharacters, replacement
        "\ue000\uf8ff", "\U000f0000\U0010fffd", "\u0378\u0379", "\U0001fbff\U0002fffe", "\ufdd0\ufdef",
        "\ufffe\uffff", "\U0010ffff", "\ufffd", "bad\ufffdbyte", "\U0001D165\U0001D16D",
        # long words and long texts
        "a" * 100, "a" * 101, "b" * 99 + "\u0301", "supercalifragilisticexpialidocious",
        "x" * 200, "\u00e9" * 101, "antidisestablishmentarianism " * 3,
        ("the quick brown fox jumps over the lazy dog " * 30).strip(),
        ("tokenization " * 130).strip(), "\u4e00" * 300, "word, " * 200,
        # case mapping
        "\u0130stanbul", "I\u0307", "\u0130", "stra\u00dfe", "STRASSE", "\u1e9e", "\u03a3\u039f\u03a6\u0399\u0391\u03a3",
        "\u03c3\u03c2\u03a3", "\u01c5", "\u1f88", "\u0345", "\u212a\u00c5", "\u0041\u030a", "\u10a0\u2d00",
        "\u13f8\uab70", "\ua7cb\ua7dc\U00010d50",
        # full-width, ligatures, compatibility
        "\uff28\uff45\uff4c\uff4c\uff4f\uff01", "\uff11\uff12\uff13", "\ufb01nance \ufb00 \ufb03", "\u2163 \u2460 \u00bd",
        "\u33a1 \u2122 \u2100", "\uff61\uff64\uff62\uff63",
        # added / special tokens literally in the text
        "[MASK]", "the [MASK] is here", "x[MASK]y", "[[MASK]]", "[MASK", "[mask]", "[Mask]", "[CLS]", "[SEP]",
        "[UNK]", "[PAD]", "[CLS] hello [SEP]", "[MASK][MASK][MASK]", "a\u0301[MASK]\u0301b", "[ MASK ]", "\uff3bMASK\uff3d",
        # numbers, punctuation, URLs, e-mail addresses
        "1,000,000.00", "$12.50", "-3.14e-10", "10%", "2024-11-25T11:30:00Z", "+1 (555) 123-4567",
        "...", "!!!???", "\u2026\u2014\u2013", "\u00bfQu\u00e9?", "\u00ab\u00bb\u201c\u201d\u2018\u2019",
        "https://example.com/path?query=1&x=y#frag", "www.google.co.uk", "john.doe+tag@example.org",
        "C:\\Users\\file.txt", "<html><body>x</body></html>", "a_b-c.d/e\\f", "@user #hashtag",
        # punctuation whose category changed between Unicode versions
        "\u061d\u09fd\u0a76\u0c77", "\u166d\u2e43\u2e52", "\U00011a3f\U00011a40", "\u0890\u08e2",
        "\u1734", "\U000111c9", "\U00011938", "\u0898\u07fd",
    ]
    for s in plain:
        A.append((s, 1, 0))
    # the encode options
    for s in ["hello world", "", "[MASK]", ("tokenization " * 130).strip(), "a b c d e f g h"]:
        A.append((s, 0, 0))
    for s, m in [("a b c d e f g h", 2), ("a b c d e f g h", 3), ("a b c d e f g h", 5), ("a b c", 10),
                 (("tokenization " * 130).strip(), 64), (("tokenization " * 130).strip(), 512)]:
        A.append((s, 1, m))
        A.append((s, 0, m))
    return A


def ref_ids(tok, text, add_special, max_len):
    if max_len:
        tok.enable_truncation(max_len)
    try:
        return tok.encode(text, add_special_tokens=bool(add_special)).ids
    finally:
        if max_len:
            tok.enable_truncation(128)


# ---- data sets ----------------------------------------------------------------

def data_files(data):
    return sorted(os.path.relpath(p, data) for p in glob.glob(os.path.join(data, "*", "*.csv")))


def read_texts(path):
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows and rows[0][:1] == ["text"], path
    return [r[0] for r in rows[1:]]


# ---- Unicode tables -------------------------------------------------------------

class _Prop(ctypes.Structure):
    _fields_ = [("category", ctypes.c_int16), ("combining_class", ctypes.c_int16)]


def gen_tables():
    """Ask the reference about each codepoint and record where it disagrees with
    the base definitions in bert_norm.c (computed here from the same utf8proc)."""
    from tokenizers import normalizers, pre_tokenizers
    U = ctypes.CDLL("libutf8proc.so.2")
    U.utf8proc_get_property.restype = ctypes.POINTER(_Prop)
    U.utf8proc_tolower.restype = ctypes.c_int32
    U.utf8proc_unicode_version.restype = ctypes.c_char_p
    U.utf8proc_version.restype = ctypes.c_char_p
    uver = U.utf8proc_unicode_version().decode()
    BN = normalizers.BertNormalizer
    clean = BN(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    cjk = BN(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    strip = BN(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    lower = BN(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=True)
    nfd = normalizers.NFD()
    pt = pre_tokenizers.BertPreTokenizer()
    buf = (ctypes.c_int32 * 64)()
    last = ctypes.c_int(0)

    def u_cat(c):
        return U.utf8proc_get_property(c).contents.category

    def u_ccc(c):
        return U.utf8proc_get_property(c).contents.combining_class

    def u_nfd(c):
        n = U.utf8proc_decompose_char(c, buf, 64, 1 << 4, ctypes.byref(last))
        return [buf[i] for i in range(n)]

    CN, MN, CC, CF, CO, ZS, ZL, ZP = 0, 6, 26, 27, 29, 23, 24, 25
    ascii_punct = set(range(33, 48)) | set(range(58, 65)) | set(range(91, 97)) | set(range(123, 127))
    flips = {"control": [], "mn": [], "punct": [], "ccc0": []}
    nfd_exc, lower_exc, hard = [], [], []
    for c in codepoints():
        s = chr(c)
        cat = u_cat(c)
        # base definitions of bert_norm.c
        b_ctl = c not in (9, 10, 13) and cat in (CC, CF, CO)
        b_ws = c in (9, 10, 11, 12, 13, 0x85) or cat in (ZS, ZL, ZP)
        b_punct = c in ascii_punct or 12 <= cat <= 18
        b_cjk = (0x4E00 <= c <= 0x9FFF or 0x3400 <= c <= 0x4DBF or 0x20000 <= c <= 0x2A6DF
                 or 0x2A700 <= c <= 0x2B73F or 0x2B740 <= c <= 0x2B81F or 0x2B920 <= c <= 0x2CEAF
                 or 0xF900 <= c <= 0xFAFF or 0x2F800 <= c <= 0x2FA1F)
        r = clean.normalize_str(s)
        r_ctl = r == "" and c not in (0, 0xFFFD)
        if c not in (0, 0xFFFD) and r_ctl != b_ctl:
            flips["control"].append(c)
        if not r_ctl and c not in (0, 0xFFFD) and (r == " ") != b_ws:
            hard.append("whitespace U+%04X" % c)  # no table: the base must agree
        if (cjk.normalize_str(s) == " " + s + " ") != b_cjk:
            hard.append("cjk U+%04X" % c)
        p = pt.pre_tokenize_str("a" + s + "a")
        if (len(p) == 2) != b_ws:
            hard.append("pre-tokenizer whitespace U+%04X" % c)
        if (len(p) == 3) != b_punct:
            flips["punct"].append(c)
        rn = [ord(x) for x in nfd.normalize_str(s)]
        un = u_nfd(c)
        if rn != un:
            nfd_exc.append((c, rn))
        if rn == [c]:
            if (strip.normalize_str(s) == "") != (cat == MN):
                flips["mn"].append(c)
            k = u_ccc(c)
            if k:
                # does the reference reorder c against a mark of another class?
                t, exp = ("a\u0345" + s, "a" + s + "\u0345") if k < 240 else ("a" + s + "\u0334", "a\u0334" + s)
                if nfd.normalize_str(t) != exp:
                    flips["ccc0"].append(c)
        rl = [ord(x) for x in lower.normalize_str(s)]
        if rl != [U.utf8proc_tolower(c)]:
            lower_exc.append((c, rl))
    if hard:
        sys.exit("gen_tables: no table for these differences: %s" % hard[:20])
    assert all(len(d) <= 4 for _, d in nfd_exc) and all(len(d) <= 2 for _, d in lower_exc)

    def ranges(cs):
        out = []
        for c in sorted(cs):
            if out and out[-1][1] == c - 1:
                out[-1][1] = c
            else:
                out.append([c, c])
        return out

    def rtable(name, cs, what):
        rs = ranges(cs)
        body = ",\n".join("    " + ", ".join("{0x%04X, 0x%04X}" % tuple(x) for x in rs[i:i + 4])
                          for i in range(0, len(rs), 4))
        return "/* %s (%d codepoints) */\nstatic const uint32_t %s[][2] = {\n%s\n};\n" % (
            what, len(cs), name, body or "    {0xFFFFFFFF, 0xFFFFFFFF}")

    import tokenizers
    out = ["/*",
           " * bert_unicode_tables.h — where Hugging Face tokenizers %s (BertNormalizer," % tokenizers.__version__,
           " * BertPreTokenizer) disagrees with utf8proc %s (Unicode %s) about a codepoint." % (
               U.utf8proc_version().decode(), uver),
           " * GENERATED by tests/ref/gen_tokenizer_fixtures.py, which asks the reference about",
           " * every codepoint: do not edit. The reference takes its categories from the",
           " * `unicode_categories` crate and its NFD from `unicode-normalization-alignments`,",
           " * both older than Unicode %s, and its case mapping from a newer Rust std." % uver,
           " * Each *_flip table lists ranges where the reference's answer is the opposite of",
           " * the base definition in bert_norm.c computed from utf8proc.",
           " */",
           "#ifndef TCF_BERT_UNICODE_TABLES_H",
           "#define TCF_BERT_UNICODE_TABLES_H",
           "",
           "#include <stdint.h>",
           "",
           '#define TK_TABLES_UNICODE "%s"' % uver,
           "",
           rtable("flip_control", flips["control"],
                  "control (Cc, Cf, Co; Cn is never control in the reference): new Cf chars it does not know"),
           rtable("flip_mn", flips["mn"], "nonspacing mark Mn, checked on chars without a decomposition"),
           rtable("flip_punct", flips["punct"], "punctuation P* (ASCII punctuation always counts)"),
           rtable("flip_ccc", flips["ccc0"], "nonzero canonical combining class the reference treats as 0"),
           "/* canonical decompositions that differ: {cp, length, d0..d3} */",
           "static const uint32_t nfd_exc[][6] = {",
           ",\n".join("    {0x%04X, %d, %s}" % (c, len(d), ", ".join("0x%04X" % x for x in d + [0] * (4 - len(d))))
                      for c, d in nfd_exc) or "    {0xFFFFFFFF, 0, 0, 0, 0, 0}",
           "};",
           "/* lowercase mappings that differ (Rust char::to_lowercase vs utf8proc_tolower):",
           " * {cp, l0, l1 or 0} */",
           "static const uint32_t lower_exc[][3] = {",
           ",\n".join("    {0x%04X, 0x%04X, 0x%04X}" % (c, d[0], d[1] if len(d) > 1 else 0) for c, d in lower_exc)
           or "    {0xFFFFFFFF, 0, 0}",
           "};",
           "",
           "#endif",
           ""]
    with open(TABLES, "w") as f:
        f.write("\n".join(out))
    print("tables: control %d, mn %d, punct %d, ccc %d, nfd %d, lower %d -> %s" % (
        len(flips["control"]), len(flips["mn"]), len(flips["punct"]), len(flips["ccc0"]), len(nfd_exc),
        len(lower_exc), os.path.relpath(TABLES, ROOT)))


# ---- fixtures -------------------------------------------------------------------

HEADER = "# generated by tests/ref/gen_tokenizer_fixtures.py (tokenizers %s) -- do not edit\n"


def gen_cases(tok, data):
    import tokenizers
    cases = [("adv", s, a, m) for s, a, m in adversarial()]
    n_adv = len(cases)
    # a sample of the data: every k-th row of each file, plus non-ASCII texts
    for rel in data_files(data):
        texts = read_texts(os.path.join(data, rel))
        step = max(1, len(texts) // 10)
        for i in range(0, len(texts), step):
            cases.append(("%s:%d" % (rel, i + 2), texts[i], 1, 0))
        na = [i for i, t in enumerate(texts) if any(ord(ch) > 127 for ch in t)]
        for i in na[:: max(1, len(na) // 8)][:8]:
            cases.append(("%s:%d" % (rel, i + 2), texts[i], 1, 0))
    lines = [HEADER % tokenizers.__version__,
             "# group<TAB>add_special<TAB>max_len (0 = tokenizer's own)<TAB>text as UTF-8 hex (- if empty)<TAB>ids\n"]
    for g, s, a, m in cases:
        ids = ref_ids(tok, s, a, m)
        lines.append("%s\t%d\t%d\t%s\t%s\n" % (g, a, m, s.encode("utf-8").hex() or "-", " ".join(map(str, ids))))
    with open(os.path.join(FIX, "cases.txt"), "w") as f:
        f.writelines(lines)
    print("cases: %d adversarial, %d data samples" % (n_adv, len(cases) - n_adv))
    return cases


def check_vocab_txt(tok, cases):
    """What transformers builds from a directory holding only vocab.txt must
    agree (the C loader builds the same; test_tokenizer.c checks it)."""
    import shutil
    import tempfile
    from transformers import BertTokenizer
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(os.path.join(MODEL, "vocab.txt"), d)
        bt = BertTokenizer.from_pretrained(d)
    bad = 0
    for g, s, a, m in cases:
        want = ref_ids(tok, s, a, m)
        got = bt(s, add_special_tokens=bool(a), truncation=True, max_length=m or 128)["input_ids"]
        if got != want:
            bad += 1
            print("vocab.txt differs:", g, repr(s)[:60], got[:12], want[:12])
    print("vocab.txt check: %d of %d differ" % (bad, len(cases)))


# Extra added tokens spliced into the model's tokenizer.json (by test_tokenizer.c
# too) to exercise lstrip / rstrip / single_word / normalized matching.
EXTRA_ADDED = [
    {"id": 30522, "content": "<ent>", "lstrip": True, "rstrip": True, "normalized": False},
    {"id": 30523, "content": "New York", "normalized": True},
    {"id": 30524, "content": "foo", "single_word": True, "normalized": False},
    {"id": 30525, "content": "\u00dcn\u00efc\u00f6d\u00e9", "normalized": True},
    {"id": 30526, "content": "[X]", "lstrip": True, "normalized": False, "special": True},
    {"id": 30527, "content": "<ent>x", "normalized": False},
    {"id": 30528, "content": "Ba\u0301r", "normalized": True, "single_word": True},
]
ADDED_TEXTS = [
    "a <ent> b", "a<ent>b", "  <ent>  x", "<ent><ent>", "<ent>xy", "x <ent>x y", "I love New York and new york and NEW YORK",
    "NewYork new  york", "foo food afoo foo. (foo) foo_bar foo-bar", "foofoo", "\u00dcN\u00cfC\u00d6D\u00c9 unicode \u00dcn\u00efc\u00f6d\u00e9",
    "x [X] y", "[X][X]", "  [X]  ", "", "[MASK] <ent> [X] foo New York", "bar b\u00e1r B\u00c1R xbar bar!", "New York\u00e9",
    "<ENT> <Ent>", "new\tyork", "[x] [X", "foo\u0301 foo",
]


def gen_added_cases():
    import json
    import tokenizers
    from tokenizers import Tokenizer
    extra = [dict({"single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "special": False}, **e)
             for e in EXTRA_ADDED]
    with open(os.path.join(FIX, "extra_added.json"), "w") as f:
        json.dump(extra, f, indent=1)
        f.write("\n")
    with open(os.path.join(MODEL, "tokenizer.json"), encoding="utf-8") as f:
        d = json.load(f)
    d["added_tokens"] = extra + d["added_tokens"]
    tok = Tokenizer.from_str(json.dumps(d))
    tok.no_padding()
    lines = [HEADER % tokenizers.__version__]
    for s in ADDED_TEXTS:
        for add in (1, 0):
            ids = tok.encode(s, add_special_tokens=bool(add)).ids
            lines.append("added\t%d\t0\t%s\t%s\n" % (add, s.encode("utf-8").hex() or "-", " ".join(map(str, ids))))
    with open(os.path.join(FIX, "added_cases.txt"), "w") as f:
        f.writelines(lines)
    print("added: %d cases" % (len(lines) - 1))


# Variants of the model's tokenizer.json: [path, value] edits applied in order
# (test_tokenizer.c applies the same edits), each checked on VARIANT_TEXTS.
VARIANTS = {
    "left10": [[["truncation"], {"max_length": 10, "strategy": "LongestFirst", "stride": 0, "direction": "Left"}]],
    "cased": [[["normalizer", "lowercase"], False]],
    "strip_only": [[["normalizer", "lowercase"], False], [["normalizer", "strip_accents"], True]],
    "lower_no_strip": [[["normalizer", "strip_accents"], False]],
    "no_clean_no_cjk": [[["normalizer", "clean_text"], False], [["normalizer", "handle_chinese_chars"], False]],
    "no_normalizer": [[["normalizer"], None]],
    "whitespace_split": [[["pre_tokenizer"], {"type": "WhitespaceSplit"}]],
    "no_pre_tokenizer": [[["pre_tokenizer"], None]],
    "bert_processing": [[["post_processor"], {"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}]],
    "no_post_processor": [[["post_processor"], None], [["truncation"], None]],
    "prefix_and_max_chars": [[["model", "continuing_subword_prefix"], "@@"], [["model", "max_input_chars_per_word"], 6]],
}


def variant_texts():
    short = [s for s, a, m in adversarial() if a == 1 and m == 0 and len(s) <= 60]
    return short[::2] + ["I\u0307 \u0130 \ua7cb\U00010d50 \u1e9e\u00df \u0345\u1f88", "a\x85b\x0bc\x1cd e\u3000f",
                         "\u0f73\u0f75\U0001D165\u0301\U0001D16D", "x" * 130]


def apply_edits(d, edits):
    for path, value in edits:
        o = d
        for k in path[:-1]:
            o = o[k]
        o[path[-1]] = value
    return d


def gen_variants():
    import json
    import tokenizers
    from tokenizers import Tokenizer
    with open(os.path.join(FIX, "variants.json"), "w") as f:
        json.dump(VARIANTS, f, indent=1)
        f.write("\n")
    lines = [HEADER % tokenizers.__version__]
    texts = variant_texts()
    for name, edits in VARIANTS.items():
        with open(os.path.join(MODEL, "tokenizer.json"), encoding="utf-8") as f:
            d = apply_edits(json.load(f), edits)
        tok = Tokenizer.from_str(json.dumps(d))
        tok.no_padding()
        for s in texts:
            for add in (1, 0):
                ids = tok.encode(s, add_special_tokens=bool(add)).ids
                lines.append("%s\t%d\t0\t%s\t%s\n" % (name, add, s.encode("utf-8").hex() or "-", " ".join(map(str, ids))))
    with open(os.path.join(FIX, "variants.txt"), "w") as f:
        f.writelines(lines)
    print("variants: %d variants x %d texts" % (len(VARIANTS), len(texts)))


def gen_data_digest(tok, data):
    import tokenizers
    lines = [HEADER % tokenizers.__version__, "# F <file> <rows> | C <chunk index> <fnv64 of ids of rows 64*i..>\n"]
    total = 0
    for rel in data_files(data):
        texts = read_texts(os.path.join(data, rel))
        encs = tok.encode_batch(texts)
        lines.append("F %s %d\n" % (rel, len(texts)))
        for k in range(0, len(texts), CHUNK):
            h = FNV_BASIS
            for e in encs[k:k + CHUNK]:
                h = fnv(ids_bytes(e.ids), h)
            lines.append("C %d %016x\n" % (k // CHUNK, h))
        total += len(texts)
        print("  %-32s %6d texts" % (rel, len(texts)))
    with open(os.path.join(FIX, "data_digest.txt"), "w") as f:
        f.writelines(lines)
    print("data digest: %d texts" % total)


def gen_random(tok):
    import tokenizers
    texts = [random_string(i) for i in range(RANDOM_COUNT)]
    encs = tok.encode_batch(texts)
    lines = [HEADER % tokenizers.__version__, "R %d %d\n" % (RANDOM_SEED, RANDOM_COUNT)]
    lines += ["%d %016x\n" % (i, fnv(ids_bytes(e.ids))) for i, e in enumerate(encs)]
    with open(os.path.join(FIX, "random.txt"), "w") as f:
        f.writelines(lines)
    print("random: %d strings" % len(texts))


def ref_words(tok, text):
    return [w for w, _ in tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(text))]


def gen_codepoints(tok):
    import tokenizers
    cps = codepoints()
    lines = [HEADER % tokenizers.__version__, "B %d\n" % CP_BLOCK]
    for b in range(0, 0x110000, CP_BLOCK):
        block = [c for c in range(b, b + CP_BLOCK) if not (0xD800 <= c <= 0xDFFF)]
        if not block:
            continue
        encs = tok.encode_batch([cp_text_ids(c) for c in block])
        h = FNV_BASIS
        for c, e in zip(block, encs):
            h = fnv(words_bytes(ref_words(tok, cp_text_words(c))), h)
            h = fnv(ids_bytes(e.ids), h)
        lines.append("%06x %016x\n" % (b, h))
    with open(os.path.join(FIX, "codepoints.txt"), "w") as f:
        f.writelines(lines)
    print("codepoints: %d in %d blocks" % (len(cps), len(lines) - 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--only", choices=["tables", "cases", "data", "random", "codepoints"])
    ap.add_argument("--show-codepoints", nargs=2, metavar=("FIRST", "LAST"),
                    help="print the reference words and ids of the codepoint texts")
    ap.add_argument("--show-random", type=int, metavar="I", help="print the i-th random string and its ids")
    a = ap.parse_args()
    tok = load_tokenizer()
    if a.show_codepoints:
        for c in range(int(a.show_codepoints[0], 0), int(a.show_codepoints[1], 0) + 1):
            if 0xD800 <= c <= 0xDFFF:
                continue
            print("U+%04X words %s ids %s" % (c, ref_words(tok, cp_text_words(c)), tok.encode(cp_text_ids(c)).ids))
        return
    if a.show_random is not None:
        s = random_string(a.show_random)
        print(repr(s), s.encode("utf-8").hex(), tok.encode(s).ids)
        return
    os.makedirs(FIX, exist_ok=True)
    if a.only in (None, "tables"):
        gen_tables()
    if a.only in (None, "cases"):
        check_vocab_txt(tok, gen_cases(tok, a.data))
        gen_added_cases()
        gen_variants()
    if a.only in (None, "data"):
        gen_data_digest(tok, a.data)
    if a.only in (None, "random"):
        gen_random(tok)
    if a.only in (None, "codepoints"):
        gen_codepoints(tok)


if __name__ == "__main__":
    main()
