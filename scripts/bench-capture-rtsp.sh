#!/usr/bin/env bash
# Measures `kvs capture` of a 1080p30 H.264 8 Mbit/s RTSP camera (GStreamer's
# RTSP server playing a file at its real rate, RTP over UDP) into `kvs serve`:
# peak resident memory (VmHWM), the largest anonymous and file-backed parts,
# and the CPU share of one core over SECONDS (default 30). In the same run,
# the peer: ffmpeg as the RTSP client passing the stream through to Matroska
# (-c copy -f matroska /dev/null). Prints a markdown table.
# Needs go, ffmpeg (libx264) and python3 with GStreamer's gi bindings
# (gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good/bad).
set -euo pipefail
secs=${1:-30}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/kvs" ./cmd/kvs
ffmpeg -v error -f lavfi -i "testsrc2=size=1920x1080:rate=30" -t $((secs + 15)) -c:v libx264 -preset ultrafast \
	-b:v 8M -maxrate 8M -bufsize 8M -g 60 -bf 0 "$work/cam.mkv"
port=$((20000 + RANDOM % 20000))
/usr/bin/python3 scripts/rtsp_file_server.py "$work/cam.mkv" "$port" >"$work/rtsp.out" 2>&1 &
for _ in $(seq 100); do grep -q READY "$work/rtsp.out" && break; sleep 0.1; done
grep -q READY "$work/rtsp.out" || { cat "$work/rtsp.out" >&2; exit 1; }
url="rtsp://127.0.0.1:$port/cam"

"$work/kvs" serve --listen 127.0.0.1:0 --data-dir "$work/data" --log-level warn >"$work/serve.out" 2>&1 &
for _ in $(seq 100); do grep -q "ready at" "$work/serve.out" && break; sleep 0.1; done
endpoint=$(sed -n 's/.*ready at \(http:[^ ]*\).*/\1/p' "$work/serve.out")
export AWS_SHARED_CREDENTIALS_FILE="$work/data/credentials" AWS_CONFIG_FILE=/dev/null AWS_REGION=us-east-1
unset AWS_CA_BUNDLE

# measure PID: samples /proc every 0.5 s for secs after a 3 s warm-up; prints
# "peak_kB anon_kB file_kB cpu%".
measure() {
	local pid=$1 hw=0 a=0 f=0 h an fi c0 c1 t0 tick
	tick=$(getconf CLK_TCK)
	sleep 3
	c0=$(awk '{print $14+$15}' /proc/"$pid"/stat)
	t0=$(date +%s.%N)
	while awk -v t0="$t0" -v s="$secs" -v now="$(date +%s.%N)" 'BEGIN{exit !(now - t0 < s)}'; do
		read -r h an fi < <(awk '/^VmHWM/{h=$2} /^RssAnon/{a=$2} /^RssFile/{f=$2} END{print h+0, a+0, f+0}' /proc/"$pid"/status)
		hw=$h; a=$((an > a ? an : a)); f=$((fi > f ? fi : f))
		sleep 0.5
	done
	c1=$(awk '{print $14+$15}' /proc/"$pid"/stat)
	awk -v c0="$c0" -v c1="$c1" -v tk="$tick" -v s="$secs" -v h="$hw" -v a="$a" -v f="$f" \
		'BEGIN{printf "%d %d %d %.2f\n", h, a, f, 100*(c1-c0)/tk/s}'
}

cp "$work/kvs" "$work/kvs-capture"
dd if="$work/kvs-capture" iflag=nocache count=0 status=none
"$work/kvs-capture" capture --source "$url" --stream cam --create-stream --endpoint-url "$endpoint" >"$work/capture.log" 2>&1 &
cap=$!
read -r kh ka kf kc < <(measure "$cap")
kill -TERM "$cap"; wait "$cap" || true
persisted=$(grep -c "fragment persisted" "$work/capture.log" || true)

ffmpeg -v error -rtsp_transport udp -i "$url" -map 0 -c copy -f matroska -y /dev/null >"$work/ff.log" 2>&1 &
ff=$!
read -r fh fa ff_ fc < <(measure "$ff")
kill -INT "$ff"; wait "$ff" || true

mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
echo "| process ($secs s, 1080p30 H.264 8 Mbit/s over RTSP/UDP, real time) | peak RSS (MB) | anon (MB) | file-backed (MB) | CPU (one core) |"
echo "| --- | --- | --- | --- | --- |"
echo "| kvs capture --source rtsp://... into kvs serve ($persisted fragments persisted) | $(mb "$kh") | $(mb "$ka") | $(mb "$kf") | $kc % |"
echo "| ffmpeg -rtsp_transport udp -i rtsp://... -c copy -f matroska /dev/null (peer) | $(mb "$fh") | $(mb "$fa") | $(mb "$ff_") | $fc % |"
