"""The peer of the local Whisper bench: faster-whisper (CTranslate2) on the same CTranslate2
weights, clip and thread count. Prints one JSON line per run: wall seconds (transcription
and decoding of the audio, as ours is timed), audio seconds, and the text.

Usage: faster_whisper_peer.py MODEL_DIR AUDIO THREADS RUNS COMPUTE_TYPE
"""

import json
import sys
import time

from faster_whisper import WhisperModel
from faster_whisper.audio import decode_audio


def main():
    model_dir, audio_path, threads, runs, compute_type = sys.argv[1:6]
    model = WhisperModel(model_dir, device="cpu", compute_type=compute_type,
                         cpu_threads=int(threads), num_workers=1)
    audio = decode_audio(audio_path, sampling_rate=16000)
    for _ in range(int(runs)):
        start = time.perf_counter()
        # Greedy, no VAD and no previous-text prompt: what ours does.
        segments, info = model.transcribe(audio, beam_size=1, best_of=1, temperature=0.0,
                                          vad_filter=False, condition_on_previous_text=False,
                                          language="en")
        text = " ".join(s.text.strip() for s in segments)
        wall = time.perf_counter() - start
        print(json.dumps({"wall_secs": wall, "audio_secs": info.duration, "text": text}), flush=True)


if __name__ == "__main__":
    main()
