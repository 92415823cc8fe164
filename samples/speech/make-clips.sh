#!/usr/bin/env bash
# Makes the speech clips the Whisper tests and benches score word error rates on: espeak-ng
# speech with known scripts, under a little noise, in the containers people upload (WebM/Opus,
# MP4/AAC, MP3), each with its script beside it as <clip>.txt (the reference text).
#
# Needs Debian's espeak-ng and ffmpeg (apt-get install espeak-ng ffmpeg).
#
# Usage: samples/speech/make-clips.sh            (writes the committed clips in samples/speech/)
#        samples/speech/make-clips.sh long OUT   (a ~10-minute bench clip: OUT.webm and OUT.txt; not committed)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

gap() { # gap SECONDS OUT.wav
  ffmpeg -nostdin -loglevel error -y -f lavfi -i "anullsrc=r=16000:cl=mono" -t "$1" "$2"
}

duration() {
  ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"
}

# speak VOICE SPEED TEXT OUT.wav: one line as 16 kHz mono.
speak() {
  espeak-ng -v "$1" -s "$2" -w "$work/raw.wav" "$3" </dev/null
  ffmpeg -nostdin -loglevel error -y -i "$work/raw.wav" -ar 16000 -ac 1 "$4"
}

# noisy_concat LIST NOISE_COLOUR NOISE_AMPLITUDE OUT.wav: joins the files in LIST, then lays
# the noise under the whole clip (gaps included, as a room would).
noisy_concat() {
  ffmpeg -nostdin -loglevel error -y -f concat -safe 0 -i "$1" -c:a pcm_s16le "$work/joined.wav"
  local d
  d=$(duration "$work/joined.wav")
  ffmpeg -nostdin -loglevel error -y -i "$work/joined.wav" \
    -f lavfi -i "anoisesrc=color=$2:amplitude=$3:sample_rate=16000:duration=$d:seed=42" \
    -filter_complex "[0:a][1:a]amix=inputs=2:duration=first:normalize=0" -ac 1 "$4"
}

# clip NAME VOICE SPEED NOISE AMPLITUDE EXT ENCODER-ARGS... < script lines
clip() {
  local name=$1 voice=$2 speed=$3 noise=$4 amp=$5 ext=$6
  shift 6
  : >"$work/list.txt"
  : >"$here/$name.txt"
  local i=0 line
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    speak "$voice" "$speed" "$line" "$work/$name-$i.wav"
    gap 0.5 "$work/$name-gap-$i.wav"
    printf "file '%s'\nfile '%s'\n" "$work/$name-$i.wav" "$work/$name-gap-$i.wav" >>"$work/list.txt"
    printf '%s\n' "$line" >>"$here/$name.txt"
    i=$((i + 1))
  done
  noisy_concat "$work/list.txt" "$noise" "$amp" "$work/$name.wav"
  ffmpeg -nostdin -loglevel error -y -i "$work/$name.wav" "$@" "$here/$name.$ext"
  echo "wrote samples/speech/$name.$ext ($(stat -c %s "$here/$name.$ext") bytes, $(duration "$here/$name.$ext") s) and $name.txt"
}

standup() {
  clip standup en-gb 150 pink 0.02 webm -c:a libopus -b:a 32k <<'LINES'
Yesterday I finished the retry logic for the export worker.
Today I am looking at the slow search queries on the documents page.
The index on the recordings table was missing, so every search scanned the whole table.
I added the index and the page now loads in under a second.
Nothing is blocking me, but I need a review on the migration before lunch.
LINES
}

support_call() {
  clip support-call en-us+f2 185 brown 0.03 m4a -c:a aac -b:a 40k <<'LINES'
Thank you for calling, how can I help you today?
My recording finished uploading an hour ago, but the transcript is still missing.
Could you read me the recording number from the top of the page?
It is seven four two, and the title is quarterly planning.
I can see it now. The transcription failed because the audio was empty.
Please upload the file again and it should be ready in a few minutes.
LINES
}

german() {
  clip german de 160 pink 0.015 mp3 -c:a libmp3lame -b:a 32k <<'LINES'
Guten Morgen, heute besprechen wir die Planung für das nächste Quartal.
Die neue Version wird am Freitag veröffentlicht.
Bitte schreibt eure Fragen in das gemeinsame Dokument.
LINES
}

# long OUT: ~10 minutes of varied speech (voices, speeds and sentence order rotate) for benches.
long() {
  local out=$1 target=600 total=0 i=0
  local voices=(en-us+m3 en-gb en-us+f3 en-gb-x-rp en-us+f2)
  local speeds=(150 165 175 160 185)
  mapfile -t pool < <(grep -h . "$here"/standup.txt "$here"/support-call.txt 2>/dev/null || true)
  pool+=(
    "Good morning everyone, this is the weekly sync for the mediadocs project."
    "The upload service now sends videos straight to object storage with presigned URLs."
    "Let's fix the clock today and ship the release on Friday."
    "The summary should list every decision and who owns each action item."
    "We moved the nightly backup to three in the morning to avoid the traffic peak."
    "Customers asked for speaker names in the exported documents."
    "The model server runs on two cores, so long recordings take a while."
    "Please keep the meeting notes short and link the tickets you mention."
  )
  : >"$work/list.txt"
  : >"$out.txt"
  while [ "$(printf '%.0f' "$total")" -lt "$target" ]; do
    local line=${pool[$(((i * 7) % ${#pool[@]}))]}
    speak "${voices[$((i % ${#voices[@]}))]}" "${speeds[$((i % ${#speeds[@]}))]}" "$line" "$work/long-$i.wav"
    printf "file '%s'\nfile '%s'\n" "$work/long-$i.wav" "$work/gap.wav" >>"$work/list.txt"
    [ -f "$work/gap.wav" ] || gap 0.7 "$work/gap.wav"
    printf '%s\n' "$line" >>"$out.txt"
    total=$(awk -v t="$total" -v d="$(duration "$work/long-$i.wav")" 'BEGIN { print t + d + 0.7 }')
    i=$((i + 1))
  done
  noisy_concat "$work/list.txt" pink 0.02 "$work/long.wav"
  ffmpeg -nostdin -loglevel error -y -i "$work/long.wav" -c:a libopus -b:a 32k "$out.webm"
  echo "wrote $out.webm ($(duration "$out.webm") s, $i lines) and $out.txt"
}

case "${1:-}" in
  "") standup; support_call; german ;;
  long) [ -n "${2:-}" ] || { echo "usage: $0 long OUT" >&2; exit 2; }; long "$2" ;;
  *) echo "usage: $0 [long OUT]" >&2; exit 2 ;;
esac
