"""A byte-level BPE tokenizer.json of 400 tokens trained on data/demo/train.csv,
for tests/cli_decoder.sh: it fits the tiny random Llama's 512-token vocabulary
(tests/fixtures/llama/tiny_llama), so `tcf train` can run a decoder on text.

    .venv/bin/python tests/ref/gen_tiny_decoder_tokenizer.py
"""
import csv
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers

texts = [r["text"] for r in csv.DictReader(open("data/demo/train.csv", encoding="utf-8", newline=""))]
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train_from_iterator(texts, trainer)
tok.save("tests/fixtures/llama/tiny_decoder_tokenizer.json")
print(tok.get_vocab_size(), tok.encode("My invoice was charged twice!").ids)
