"""llama-cpp-python side of bench/run_llama_clf.sh: the last token's final
hidden state (pooling LAST: what a LlamaForSequenceClassification head reads)
of each text, one text at a time, on the same GGUF and threads as tcf.
Prints one JSON line: batch-1 latency p50/p90/p99 (ms) over the texts after
a warm-up, and the token count llama.cpp saw per text (min/max)."""
import argparse, json, time
import llama_cpp

ap = argparse.ArgumentParser()
ap.add_argument("--gguf", required=True)
ap.add_argument("--texts", required=True)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--warmup", type=int, default=8)
a = ap.parse_args()
texts = [l.rstrip("\n") for l in open(a.texts, encoding="utf-8")]
llm = llama_cpp.Llama(model_path=a.gguf, embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_LAST,
                      n_threads=a.threads, n_threads_batch=a.threads, n_ctx=512, n_batch=512, verbose=False)
ntok = [len(llm.tokenize(t.encode(), add_bos=False, special=False)) for t in texts]
for t in texts[: a.warmup]:
    llm.embed(t)
lat = []
for t in texts:
    t0 = time.perf_counter()
    llm.embed(t)
    lat.append(1000 * (time.perf_counter() - t0))
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]
print(json.dumps({"engine": "llama.cpp", "version": llama_cpp.__version__, "n": len(lat), "p50_ms": q(50),
                  "p90_ms": q(90), "p99_ms": q(99), "tokens_min": min(ntok), "tokens_max": max(ntok)}))
