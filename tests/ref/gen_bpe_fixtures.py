#!/usr/bin/env python3
"""gen_bpe_fixtures.py — reference fixtures for tests/test_bpe.c (BPE
tokenizers) from Hugging Face `tokenizers` (0.23.3) and, for GGUF files,
transformers' GGUF tokenizer conversion (5.24).

    .venv/bin/python tests/ref/gen_bpe_fixtures.py            # everything
    .venv/bin/python tests/ref/gen_bpe_fixtures.py --show NAME TEXT

Writes src/text/bpe_unicode_tables.h (where the reference's char::is_numeric
differs from utf8proc's categories, found by asking it about every codepoint)
and under tests/fixtures/bpe/:
  <name>.json    small tokenizers trained here on ../shared/data text (vocab
                 about 1000), in the forms real models use:
      bytelevel  SmolLM2 / GPT-2: Sequence[Digits(individual), ByteLevel],
                 added tokens (special and not, lstrip/rstrip/single_word),
                 TemplateProcessing "<|im_start|> $A <|im_end|>"
      llama      Llama-2 / Phi-3 SentencePiece BPE: normalizer
                 Sequence[Prepend("▁"), Replace(" ", "▁")], no pre-tokenizer,
                 byte_fallback + fuse_unk, <0x00>..<0xFF> in the vocab,
                 "<s> $A"; the trained alphabet is cut so that byte fallback
                 is exercised
      metaspace  the same model behind Metaspace(prepend_scheme first,
                 split false) as newer Llama conversions write it
      qwen2      Qwen2: NFC, Sequence[Split(Qwen2 regex, Isolated),
                 ByteLevel(use_regex false)]
      llama3     the qwen2 model behind the Llama-3 regex with ignore_merges
  <name>.cases   full ids of the adversarial strings: "add<TAB>hex<TAB>ids"
                 (add_special_tokens True; also False for the first ones and
                 those with a "<")
  <name>.digest  FNV-1a digests (layout of gen_tokenizer_fixtures.py) of the
                 ids of every text of ../shared/data/*/*.csv per 256 rows
                 ("B 256 16", then "F file rows" / "C chunk hash") and of 2000
                 random strings (gen_tokenizer_fixtures.random_string) per 16
                 ("R seed count" / "chunk hash")
  smollm2.cases / smollm2.digest  (when models/SmolLM2-135M-Instruct/*.gguf is
                 present) the same for the real SmolLM2 tokenizer: transformers
                 builds it from the GGUF metadata, with the pre-tokenizer set to
                 SmolLM2's own tokenizer.json form (Digits individual + ByteLevel;
                 transformers' conversion drops the Digits step: the number of
                 data texts where that changes the ids is printed)
  variants.json, variants.txt  edited copies of those (every Split behaviour,
                 invert, a String pattern, NFKC / Lowercase / Strip / Regex
                 Replace / NFD, ByteLevel add_prefix_space, Digits contiguous,
                 Metaspace always / never with split, unk without byte
                 fallback (fused or not, or no unk), ignore_merges off) and the
                 ids of the first 64 adversarial strings of <= 60 chars under each
  codepoints.txt  for bytelevel, qwen2 and llama3: a digest per 4096
                 codepoints of the pre-tokenized words (normalised first) of
                 cp_text(c) for every codepoint c
  qwen2.gguf, qwen2_gguf.cases  a byte-level ("gpt2", pre "qwen2") GGUF of
                 the qwen2 fixture's vocab and merges, and its ids as transformers'
                 GGUF conversion tokenizes
  spm.gguf, spm_gguf.cases  a SentencePiece ("llama") GGUF written here from the llama
                 fixture's vocab and its ids as
                 transformers' GGUF conversion tokenizes
"""
import argparse
import csv
import glob
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_tokenizer_fixtures as gtf  # noqa: E402  (random_string, adversarial, fnv)

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures", "bpe")
SMOL_DIR = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct")
SMOL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DATA = os.path.join(ROOT, "..", "shared", "data")

QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
         r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def data_texts():
    out = []
    for rel in gtf.data_files(DATA):
        out.append((rel, gtf.read_texts(os.path.join(DATA, rel))))
    return out


def train_texts(data):
    return [t for rel, ts in data if rel.endswith("train.csv") for t in ts]


def adversarial():
    A = [s for s, add, m in gtf.adversarial() if m == 0 and add == 1]
    A += [
        "<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n", "<|im_start|><|im_end|>",
        "x<|endoftext|>y", " <|im_start|> ", "<|im_start", "|im_end|>", "<|endoftext|><|endoftext|>",
        "call <tool_call> now", "a<tool_call>b", "  <tool_call>  x", "ok", "ok ok", "okay", "book ok.", " ok",
        "<s>", "</s>", "<unk>", "<s> hello </s>", "x<s>y", "<0x41>", "\u2581", "\u2581hello \u2581\u2581world",
        " " * 50, "a" + " " * 17 + "b", "\t\t\t\n\n\n  \n", "  \n  \n", "hello   ", "   hello", "a \tb", "\u00a0\u00a0x",
        "\r\n\r\n", "line1\nline2\r\nline3", "a\n\n\nb", "x \n y",
        "1234567890" * 10, "3.14159", "2024-11-25", "\uff11\uff12\uff13", "\u0663\u0664\u0665", "\u00b2\u00b3", "\u2167",
        "1,000,000", "12 345 678", "v1.2.3-rc4", "0x1F600", "\u4e00\u4e8c\u4e09 123",
        "'s 're 'VE 'Ll 'D 'M 'T", "don't I'm we'll THEY'RE you'D", "'hello'", "rock'n'roll",
        "x" * 300, "\u00e9" * 300, "\U0001D54F" * 300, "ab" * 150, ("\U0001F600" * 100),
        "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466\U0001F468\u200d\U0001F469\u200d\U0001F467",
        "I \u2764\ufe0f \U0001F355 and \U0001F35F!!", "\u0645\u0631\u062d\u0628\u0627 hello \u05e9\u05dc\u05d5\u05dd 123",
        "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002", "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8", "Gr\u00fc\u00dfe, J\u00fcrgen!",
        "e\u0301e\u0301e\u0301", "\u1e9b\u0323", "\ufb01 \ufb02", "\u212b", "A\u030a", "\u0000", "a\u0000b", "\x7f",
        "$$$ %%% ^^^", "...!!!???", "#hashtag @user", "http://example.com/a_b?c=d&e=f", "\\n\\t",
        "    def f(x):\n        return x ** 2\n", "SELECT * FROM t WHERE a = 'b';",
    ]
    return A


def fnv_ids(ids, h=gtf.FNV_BASIS):
    return gtf.fnv(gtf.ids_bytes(ids), h)


NO_SPECIAL = 12  # the first texts are also written with add_special_tokens=False


def write_cases(name, tok, texts):
    lines = ["# %s: add<TAB>hex of UTF-8 text<TAB>ids (tokenizers %s)\n" % (name, _ver())]
    for i, s in enumerate(texts):
        for add in (1, 0) if i < NO_SPECIAL or "<" in s else (1,):
            ids = tok.encode(s, add_special_tokens=bool(add)).ids
            lines.append("%d\t%s\t%s\n" % (add, s.encode("utf-8").hex(), " ".join(map(str, ids))))
    with open(os.path.join(FIX, name + ".cases"), "w") as f:
        f.writelines(lines)


CHUNK = 256        # data rows per digest line
R_CHUNK = 16       # random strings per digest line


def write_digest(name, tok, data):
    lines = ["# %s: data digests per %d rows, random strings per %d (tokenizers %s)\n" % (name, CHUNK, R_CHUNK, _ver()),
             "B %d %d\n" % (CHUNK, R_CHUNK)]
    total = 0
    for rel, texts in data:
        encs = tok.encode_batch(texts)
        lines.append("F %s %d\n" % (rel, len(texts)))
        for k in range(0, len(texts), CHUNK):
            h = gtf.FNV_BASIS
            for e in encs[k:k + CHUNK]:
                h = fnv_ids(e.ids, h)
            lines.append("C %d %016x\n" % (k // CHUNK, h))
        total += len(texts)
    rs = [gtf.random_string(i) for i in range(gtf.RANDOM_COUNT)]
    lines.append("R %d %d\n" % (gtf.RANDOM_SEED, len(rs)))
    encs = tok.encode_batch(rs)
    for k in range(0, len(rs), R_CHUNK):
        h = gtf.FNV_BASIS
        for e in encs[k:k + R_CHUNK]:
            h = fnv_ids(e.ids, h)
        lines.append("%d %016x\n" % (k // R_CHUNK, h))
    with open(os.path.join(FIX, name + ".digest"), "w") as f:
        f.writelines(lines)
    print("  %-10s %d data texts, %d random strings" % (name, total, len(rs)))


def _ver():
    import tokenizers
    return tokenizers.__version__


# ---- the small tokenizers ---------------------------------------------------------

def train_bytelevel(texts):
    from tokenizers import Tokenizer, AddedToken, models, pre_tokenizers, trainers, processors, decoders
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=1000, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                             show_progress=False)
    tok.train_from_iterator(texts, tr)
    tok.add_tokens([AddedToken("<tool_call>", lstrip=True, rstrip=True, normalized=False),
                    AddedToken("ok", single_word=True, normalized=True)])
    tok.post_processor = processors.TemplateProcessing(
        single="<|im_start|> $A <|im_end|>", special_tokens=[("<|im_start|>", 1), ("<|im_end|>", 2)])
    return tok


def train_llama(texts):
    """SentencePiece-style BPE as Llama-2's tokenizer.json: returns the JSON dict."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    t = Tokenizer(models.BPE(unk_token="<unk>"))
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tr = trainers.BpeTrainer(vocab_size=1000 - 256, special_tokens=["<unk>", "<s>", "</s>"], limit_alphabet=120,
                             show_progress=False)
    t.train_from_iterator(texts, tr)
    d = json.loads(t.to_str())
    old = d["model"]["vocab"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = 3 + b
    for tokn, _ in sorted(old.items(), key=lambda kv: kv[1]):
        if tokn not in vocab:
            vocab[tokn] = len(vocab)
    d["model"].update(vocab=vocab, byte_fallback=True, fuse_unk=True, ignore_merges=False)
    d["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                           {"type": "Replace", "pattern": {"String": " "},
                                                            "content": "\u2581"}]}
    d["pre_tokenizer"] = None
    d["added_tokens"] = [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, c in enumerate(["<unk>", "<s>", "</s>"])]
    d["post_processor"] = {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    d["decoder"] = None
    return d


def train_qwen2(texts):
    from tokenizers import Tokenizer, AddedToken, Regex, models, normalizers, pre_tokenizers, trainers, decoders
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=1000, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                             show_progress=False)
    tok.train_from_iterator(texts, tr)
    return tok


def from_dict(d):
    from tokenizers import Tokenizer
    return Tokenizer.from_str(json.dumps(d))


def save(name, d):
    with open(os.path.join(FIX, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(d, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")


def gen_small(data, adv):
    texts = train_texts(data)
    bl = train_bytelevel(texts)
    d_bl = json.loads(bl.to_str())
    d_llama = train_llama(texts)
    d_meta = json.loads(json.dumps(d_llama))
    d_meta["normalizer"] = None
    d_meta["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
    qw = train_qwen2(texts)
    d_qw = json.loads(qw.to_str())
    d_l3 = json.loads(json.dumps(d_qw))
    d_l3["normalizer"] = None
    d_l3["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {"Regex": LLAMA3}
    d_l3["model"]["ignore_merges"] = True
    d_l3["post_processor"] = {"type": "TemplateProcessing",
                              "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                                         {"Sequence": {"id": "A", "type_id": 0}}],
                              "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                              "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [0],
                                                                   "tokens": ["<|endoftext|>"]}}}
    for name, d in [("bytelevel", d_bl), ("llama", d_llama), ("metaspace", d_meta), ("qwen2", d_qw), ("llama3", d_l3)]:
        save(name, d)
        tok = from_dict(d)
        tok.no_padding()
        tok.no_truncation()
        write_cases(name, tok, adv)
        write_digest(name, tok, data)
    return d_llama


# ---- SmolLM2 from its GGUF ---------------------------------------------------------

def smol_tokenizer():
    from transformers import AutoTokenizer
    from tokenizers import pre_tokenizers
    t = AutoTokenizer.from_pretrained(SMOL_DIR, gguf_file=SMOL_FILE)
    conv = t.backend_tokenizer
    real = json.loads(conv.to_str())
    real["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    print("  transformers' GGUF conversion: pre_tokenizer %s" % json.dumps(json.loads(conv.to_str())["pre_tokenizer"]))
    return conv, from_dict(real)


def gen_smol(data, adv):
    if not os.path.exists(os.path.join(SMOL_DIR, SMOL_FILE)):
        print("  SmolLM2 GGUF absent: smollm2 fixtures not regenerated")
        return
    conv, real = smol_tokenizer()
    for t in (conv, real):
        t.no_padding()
        t.no_truncation()
    write_cases("smollm2", real, adv)
    write_digest("smollm2", real, data)
    n = diff = 0
    for _, texts in data:
        for a, b in zip(conv.encode_batch(texts), real.encode_batch(texts)):
            n += 1
            diff += a.ids != b.ids
    print("  SmolLM2: transformers' conversion (no Digits step) differs from the real pre-tokenizer on %d of %d data texts"
          % (diff, n))


# ---- a SentencePiece GGUF -------------------------------------------------------------

def gen_spm_gguf(d_llama, adv):
    import gguf
    from transformers import AutoTokenizer
    vocab = d_llama["model"]["vocab"]
    toks = [None] * len(vocab)
    for s, i in vocab.items():
        toks[i] = s
    ttype = [2, 3, 3] + [6] * 256 + [1] * (len(toks) - 259)
    path = os.path.join(FIX, "spm.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores([0.0] * 259 + [-float(i) for i in range(len(toks) - 259)])
    w.add_token_types(ttype)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    t = AutoTokenizer.from_pretrained(FIX, gguf_file="spm.gguf")
    bt = t.backend_tokenizer
    bt.no_padding()
    bt.no_truncation()
    print("  spm.gguf as transformers builds it: normalizer %s pre_tokenizer %s" % (
        json.dumps(json.loads(bt.to_str())["normalizer"]), json.dumps(json.loads(bt.to_str())["pre_tokenizer"])))
    write_cases("spm_gguf", bt, adv)


def gen_qwen_gguf(adv):
    """A byte-level ("gpt2") GGUF with pre "qwen2" from the qwen2 fixture's vocab and merges."""
    import gguf
    from transformers import AutoTokenizer
    d = json.load(open(os.path.join(FIX, "qwen2.json"), encoding="utf-8"))
    vocab = d["model"]["vocab"]
    toks = [None] * len(vocab)
    for s, i in vocab.items():
        toks[i] = s
    special = {a["content"] for a in d["added_tokens"] if a["special"]}
    path = os.path.join(FIX, "qwen2.gguf")
    w = gguf.GGUFWriter(path, "qwen2")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(toks)
    w.add_token_types([3 if t in special else 1 for t in toks])
    w.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in d["model"]["merges"]])
    w.add_bos_token_id(0)
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    bt = AutoTokenizer.from_pretrained(FIX, gguf_file="qwen2.gguf").backend_tokenizer
    bt.no_padding()
    bt.no_truncation()
    print("  qwen2.gguf as transformers builds it: normalizer %s pre_tokenizer %s" % (
        json.dumps(json.loads(bt.to_str())["normalizer"]), json.dumps(json.loads(bt.to_str())["pre_tokenizer"])))
    write_cases("qwen2_gguf", bt, adv)


# ---- variants: edited copies of the fixtures ---------------------------------------------

VARIANTS = [  # (base, [(dotted path, JSON value or None to delete)])
    ("qwen2", [("pre_tokenizer.pretokenizers.0.behavior", "Removed")]),
    ("qwen2", [("pre_tokenizer.pretokenizers.0.behavior", "MergedWithPrevious")]),
    ("qwen2", [("pre_tokenizer.pretokenizers.0.behavior", "MergedWithNext")]),
    ("qwen2", [("pre_tokenizer.pretokenizers.0.behavior", "Contiguous")]),
    ("qwen2", [("pre_tokenizer.pretokenizers.0.invert", True)]),
    ("qwen2", [("pre_tokenizer.pretokenizers.0.pattern", {"String": " "}),
               ("pre_tokenizer.pretokenizers.0.behavior", "MergedWithNext")]),
    ("qwen2", [("normalizer", {"type": "Sequence", "normalizers": [
        {"type": "NFKC"}, {"type": "Lowercase"}, {"type": "Strip", "strip_left": True, "strip_right": False},
        {"type": "Replace", "pattern": {"Regex": "[0-9]+"}, "content": "#"}]})]),
    ("qwen2", [("normalizer", {"type": "NFD"})]),
    ("bytelevel", [("pre_tokenizer.pretokenizers.1.add_prefix_space", True)]),
    ("bytelevel", [("pre_tokenizer.pretokenizers.0.individual_digits", False)]),
    ("bytelevel", [("pre_tokenizer", {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})]),
    ("metaspace", [("pre_tokenizer.prepend_scheme", "always"), ("pre_tokenizer.split", True)]),
    ("metaspace", [("pre_tokenizer.prepend_scheme", "never"), ("pre_tokenizer.split", True)]),
    ("llama", [("model.byte_fallback", False), ("model.unk_token", "<unk>"), ("model.fuse_unk", False)]),
    ("llama", [("model.byte_fallback", False), ("model.unk_token", "<unk>")]),
    ("llama", [("model.byte_fallback", False)]),
    ("llama3", [("model.ignore_merges", False)]),
]
N_VARIANT_TEXTS = 64


def apply_edits(d, edits):
    for path, val in edits:
        keys = path.split(".")
        o = d
        for k in keys[:-1]:
            o = o[int(k)] if isinstance(o, list) else o[k]
        k = keys[-1]
        if isinstance(o, list):
            o[int(k)] = val
        elif val is None:
            o.pop(k, None)
        else:
            o[k] = val


def gen_variants(adv):
    texts = [s for s in adv if len(s) <= 60][:N_VARIANT_TEXTS]
    lines = ["# variant<TAB>add<TAB>hex<TAB>ids under the edits of variants.json (tokenizers %s)\n" % _ver()]
    for vi, (base, edits) in enumerate(VARIANTS):
        d = json.load(open(os.path.join(FIX, base + ".json"), encoding="utf-8"))
        apply_edits(d, edits)
        tok = from_dict(d)
        tok.no_padding()
        tok.no_truncation()
        for s in texts:
            lines.append("%d\t1\t%s\t%s\n" % (vi, s.encode("utf-8").hex(), " ".join(map(str, tok.encode(s).ids))))
    with open(os.path.join(FIX, "variants.json"), "w", encoding="utf-8") as f:
        json.dump([{"base": b, "edits": [[p, v] for p, v in e]} for b, e in VARIANTS], f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(FIX, "variants.txt"), "w") as f:
        f.writelines(lines)
    print("  variants: %d x %d texts" % (len(VARIANTS), len(texts)))


# ---- every codepoint ---------------------------------------------------------------

CP_BLOCK = 4096
TABLES = os.path.join(ROOT, "src", "text", "bpe_unicode_tables.h")


def cp_text(c):
    """The pre-tokenized words of this text are compared (mirrored in test_bpe.c)."""
    s = chr(c)
    return "a" + s + "1 " + s + s + "  x" + s + "'s" + s


def gen_codepoints():
    """Digest per block of the pre-tokenizer words around every codepoint, for
    bytelevel (Digits + ByteLevel regex), qwen2 (NFC + Split) and llama3."""
    lines = ["# pre-tokenized words of cp_text(c) for every codepoint, FNV-1a per %d (tokenizers %s)\n"
             % (CP_BLOCK, _ver())]
    for name in ("bytelevel", "qwen2", "llama3"):
        tok = from_dict(json.load(open(os.path.join(FIX, name + ".json"), encoding="utf-8")))
        nm, pt = tok.normalizer, tok.pre_tokenizer
        for b in range(0, 0x110000, CP_BLOCK):
            h = gtf.FNV_BASIS
            n = 0
            for c in range(b, b + CP_BLOCK):
                if 0xD800 <= c <= 0xDFFF:
                    continue
                t = cp_text(c)
                if nm is not None:
                    t = nm.normalize_str(t)
                h = gtf.fnv(gtf.words_bytes([w for w, _ in pt.pre_tokenize_str(t)]), h)
                n += 1
            if n:
                lines.append("%s %06x %016x\n" % (name, b, h))
    with open(os.path.join(FIX, "codepoints.txt"), "w") as f:
        f.writelines(lines)
    print("  codepoints: %d block digests" % (len(lines) - 1))


def gen_tables():
    """Where the reference's char::is_numeric (Digits) disagrees with utf8proc's N* categories."""
    import ctypes
    import unicodedata
    from tokenizers import pre_tokenizers
    U = ctypes.CDLL("libutf8proc.so.2")
    U.utf8proc_get_property.restype = ctypes.POINTER(gtf._Prop)
    U.utf8proc_unicode_version.restype = ctypes.c_char_p
    from tokenizers import Regex
    LU, LL, LT, LM, LO, ND, NL, NO = 1, 2, 3, 4, 5, 9, 10, 11
    d = pre_tokenizers.Digits(individual_digits=True)
    rl = pre_tokenizers.Split(Regex(r"\p{L}"), behavior="isolated")
    rn = pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated")
    flips, more_l, more_n, fewer = [], [], [], []
    for c in gtf.codepoints():
        cat = U.utf8proc_get_property(c).contents.category
        probe = "!" + chr(c) + "!"
        ref = len(d.pre_tokenize_str("a" + chr(c) + "a")) == 3
        if ref != (cat in (ND, NL, NO)):
            flips.append(c)
        ucat = unicodedata.category(chr(c))
        for split, cats, more, major in ((rl, (LU, LL, LT, LM, LO), more_l, "L"), (rn, (ND, NL, NO), more_n, "N")):
            r = len(split.pre_tokenize_str(probe)) == 3
            # PCRE2 10.42 has Unicode 14 (as Python 3.11's unicodedata), utf8proc 15: a class
            # member either lacks is added (adding one PCRE2 has is harmless)
            if r and (cat not in cats or ucat[0] != major):
                more.append(c)
            elif not r and cat in cats:
                fewer.append(c)
    if fewer:
        print("  tables: WARNING: the reference's \\p{L}/\\p{N} lack %d codepoints utf8proc has: %s" % (
            len(fewer), ["U+%04X" % c for c in fewer[:10]]))

    def ranges(cs):
        rs = []
        for c in cs:
            if rs and rs[-1][1] == c - 1:
                rs[-1][1] = c
            else:
                rs.append([c, c])
        return rs

    def table(name, cs, what):
        rs = ranges(cs)
        body = ",\n".join("    " + ", ".join("{0x%04X, 0x%04X}" % tuple(x) for x in rs[i:i + 4])
                          for i in range(0, len(rs), 4))
        return ["/* %s (%d codepoints) */" % (what, len(cs)), "static const uint32_t %s[][2] = {" % name,
                body or "    {0xFFFFFFFF, 0xFFFFFFFF}", "};"]
    out = ["/*",
           " * bpe_unicode_tables.h — where Hugging Face tokenizers %s's Digits pre-tokenizer" % _ver(),
           " * (Rust char::is_numeric) and regexes (Oniguruma \\p{L} \\p{N}) disagree with utf8proc" ,
           " * (Unicode %s) categories; PCRE2 is assumed to agree with utf8proc (test_bpe checks every codepoint)." %
           U.utf8proc_unicode_version().decode(),
           " * GENERATED by tests/ref/gen_bpe_fixtures.py (asks the reference about every",
           " * codepoint): do not edit.",
           " */",
           "#ifndef TCF_BPE_UNICODE_TABLES_H",
           "#define TCF_BPE_UNICODE_TABLES_H",
           "#include <stdint.h>",
           ] + table("numeric_flip", flips, "numeric in exactly one of the two") + table(
               "regex_more_l", more_l, "\\p{L} in the reference's regex engine (Oniguruma) but not a letter in utf8proc") + table(
               "regex_more_n", more_n, "\\p{N} in the reference's regex engine but not N* in utf8proc") + [
           "#endif",
           ""]
    with open(TABLES, "w") as f:
        f.write("\n".join(out))
    print("  tables: %d numeric flips, %d more \\p{L}, %d more \\p{N}" % (len(flips), len(more_l), len(more_n)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["tables", "small", "variants", "smollm2", "gguf", "codepoints"])
    ap.add_argument("--show-cp", nargs=3, metavar=("NAME", "FIRST", "LAST"),
                    help="the reference words of cp_text(c) (diff with test_bpe --show-cp)")
    ap.add_argument("--show", nargs=2, metavar=("NAME", "TEXT"), help="ids of TEXT under fixture NAME")
    a = ap.parse_args()
    if a.show_cp:
        tok = from_dict(json.load(open(os.path.join(FIX, a.show_cp[0] + ".json"), encoding="utf-8")))
        for c in range(int(a.show_cp[1], 0), int(a.show_cp[2], 0) + 1):
            if 0xD800 <= c <= 0xDFFF:
                continue
            t = cp_text(c) if tok.normalizer is None else tok.normalizer.normalize_str(cp_text(c))
            print("U+%04X %s" % (c, "".join(w + "|" for w, _ in tok.pre_tokenizer.pre_tokenize_str(t))))
        return
    if a.show:
        tok = smol_tokenizer()[1] if a.show[0] == "smollm2" else from_dict(
            json.load(open(os.path.join(FIX, a.show[0] + ".json"))))
        text = a.show[1].encode().decode("unicode_escape") if "\\" in a.show[1] else a.show[1]
        e = tok.encode(text)
        print(e.tokens)
        print(e.ids)
        return
    os.makedirs(FIX, exist_ok=True)
    data = data_texts()
    adv = adversarial()
    if a.only in (None, "tables"):
        gen_tables()
    if a.only in (None, "small"):
        gen_small(data, adv)
    if a.only in (None, "variants"):
        gen_variants(adv)
    if a.only in (None, "smollm2"):
        gen_smol(data, adv)
    if a.only in (None, "gguf"):
        gen_spm_gguf(json.load(open(os.path.join(FIX, "llama.json"), encoding="utf-8")), adv)
        gen_qwen_gguf(adv)
    if a.only in (None, "codepoints"):
        gen_codepoints()


if __name__ == "__main__":
    main()
