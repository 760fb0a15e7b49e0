#!/usr/bin/env bash
# Rebuilds the sample clip embedded by package clip.
set -euo pipefail
cd "$(dirname "$0")"
ffmpeg -v error -f lavfi -i "testsrc2=size=640x360:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t 10 -c:v libx264 -profile:v baseline -level 3.1 -pix_fmt yuv420p -bf 0 -g 30 -keyint_min 30 -sc_threshold 0 \
  -crf 28 -preset medium -c:a aac -b:a 48k -ac 1 -metadata title="kvs sample" -y testsrc-640x360.mkv
