#!/usr/bin/env bash
# Makes the sample recording the dev stack runs end to end: a short two-voice "meeting"
# spoken by espeak-ng, encoded as WebM/Opus (what browsers record), and its sidecar
# transcript, whose segment times are measured from the audio, not guessed.
#
# The transcription simulator answers with the sidecar for these exact bytes, so regenerate
# both together. Needs Debian's espeak-ng and ffmpeg (apt-get install espeak-ng ffmpeg).
#
# Usage: samples/make-sample.sh        (writes samples/weekly-sync.{webm,transcript.json})
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# speaker|voice|line
script=$(cat <<'LINES'
Alice|en-us+f3|Good morning everyone, this is the weekly sync for the mediadocs project.
Bob|en-us+m3|The upload service now sends videos straight to object storage with presigned URLs.
Alice|en-us+f3|Great. What is blocking the transcription work?
Bob|en-us+m3|Ticket OPS-1234. The webhook signatures failed because the clock on the staging host drifted.
Alice|en-us+f3|Let's fix the clock today and ship the release on Friday.
Bob|en-us+m3|Agreed. I will write the runbook for operators before then.
LINES
)

gap_ms=600
offset_ms=0
segments=()
inputs=()
i=0
while IFS='|' read -r speaker voice line; do
  espeak-ng -v "$voice" -s 165 -w "$work/line-$i.wav" "$line" </dev/null
  ffmpeg -nostdin -loglevel error -y -i "$work/line-$i.wav" -ar 48000 -ac 1 "$work/seg-$i.wav"
  dur_ms=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$work/seg-$i.wav" | awk '{printf "%d", $1 * 1000}')
  segments+=("$(printf '{"start_ms": %d, "end_ms": %d, "text": "%s", "speaker": "%s", "confidence": null}' \
    "$offset_ms" "$((offset_ms + dur_ms))" "$line" "$speaker")")
  inputs+=("$work/seg-$i.wav")
  ffmpeg -nostdin -loglevel error -y -f lavfi -i "anullsrc=r=48000:cl=mono" -t "0.$gap_ms" "$work/gap-$i.wav"
  inputs+=("$work/gap-$i.wav")
  offset_ms=$((offset_ms + dur_ms + gap_ms))
  i=$((i + 1))
done <<<"$script"

printf "file '%s'\n" "${inputs[@]}" >"$work/list.txt"
ffmpeg -nostdin -loglevel error -y -f concat -safe 0 -i "$work/list.txt" -c:a libopus -b:a 32k \
  -metadata title="mediadocs weekly sync (sample)" weekly-sync.webm
total_ms=$(ffprobe -v error -show_entries format=duration -of csv=p=0 weekly-sync.webm | awk '{printf "%d", $1 * 1000}')
{
  printf '{\n  "language": "en",\n  "duration_ms": %d,\n  "segments": [\n' "$total_ms"
  for n in "${!segments[@]}"; do
    sep=","; [ "$n" -eq $((${#segments[@]} - 1)) ] && sep=""
    printf '    %s%s\n' "${segments[$n]}" "$sep"
  done
  printf '  ]\n}\n'
} >weekly-sync.transcript.json
echo "wrote samples/weekly-sync.webm ($(stat -c %s weekly-sync.webm) bytes, ${total_ms} ms) and its sidecar"
