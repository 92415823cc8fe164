"""The peer of the local LLM bench: llama.cpp's own server code (xllamacpp) on the same
GGUF, prompt and thread count. Prints one JSON line per run with llama.cpp's own timings.

Usage: llamacpp_peer.py GGUF PROMPT_FILE MAX_TOKENS THREADS RUNS
"""

import json
import sys

import xllamacpp as xlc


def main():
    gguf, prompt_file, max_tokens, threads, runs = sys.argv[1:6]
    params = xlc.CommonParams()
    params.model.path = gguf
    params.n_ctx = 4096
    params.n_parallel = 1
    params.cpuparams.n_threads = int(threads)
    params.cpuparams_batch.n_threads = int(threads)
    params.warmup = True
    server = xlc.Server(params)
    prompt = open(prompt_file).read()
    for _ in range(int(runs)):
        result = server.handle_chat_completions({
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": int(max_tokens),
            "temperature": 0.0,
            # Every run generates the whole budget, as ours is asked to.
            "ignore_eos": True,
            "cache_prompt": False,
        })
        t = result["timings"]
        print(json.dumps({
            "prompt_tokens": t["prompt_n"], "prompt_per_second": t["prompt_per_second"],
            "generated_tokens": t["predicted_n"], "generated_per_second": t["predicted_per_second"],
        }), flush=True)


if __name__ == "__main__":
    main()
