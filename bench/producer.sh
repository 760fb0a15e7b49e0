#!/usr/bin/env bash
# The producer side of kvs against peers measured in the same run; prints
# markdown tables (BENCHMARKS.md, rows P1 and U1-U3, shows a run).
#
#  1. Packaging: frames -> KVS MKV (fragmenter + session writer, into
#     io.Discard; BenchmarkPackaging in producer/, GOMAXPROCS=1) against
#     ffmpeg remuxing the same file to Matroska (and, as its demux-only
#     baseline, to the null muxer), each pinned to CPU 0.
#  2. Upload: `kvs put` of a ~1 GB file into `kvs serve` (fsync on, data on
#     the disk of the work directory) against curl uploading the same bytes
#     chunked over loopback to a handler that discards them (bench/discard).
#     References: the same upload with the endpoint's data on tmpfs, where
#     fsync costs nothing; into a stream created with --retention 0, which
#     the endpoint parses and acknowledges (RECEIVED) but does not store,
#     as the peer's handler discards; and dd writing the file to the same
#     disk in 2 MB synchronous writes.
#  3. Real time: peak memory and CPU share of `kvs put --realtime` of 60 s of
#     1080p H.264 at 8 Mbit/s into `kvs serve`, and of `ffmpeg -re` passing
#     the same file through to Matroska, side by side (with, for comparison,
#     `kvs put --realtime` under Go's default GOGC=100; kvs itself runs these
#     streaming commands at GOGC=25 unless GOGC is set).
#
# Needs go, ffmpeg (libx264, aac), curl and taskset. About 3-5 minutes.
# Usage: bench/producer.sh
#   KVSKIT_BENCH_TMP: where the work directory goes (default /var/tmp; it
#     must be on a disk, not tmpfs)
#   KVSKIT_BENCH_BEFORE=REV: also run `kvs put` built from git revision REV
#     in parts 2 and 3, for a before/after comparison in the same run
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in go ffmpeg ffprobe curl taskset; do
	command -v "$tool" >/dev/null || { echo "bench/producer.sh: $tool is missing" >&2; exit 1; }
done
work=$(mktemp -d "${KVSKIT_BENCH_TMP:-/var/tmp}/kvs-producer-bench.XXXXXX")
shm=""
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work" ${shm:+"$shm"}
}
trap cleanup EXIT
tick=$(getconf CLK_TCK)
now() { date +%s%N; }
median() { sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
load() { awk '{printf "load %s", $1}' /proc/loadavg; [ -r /proc/pressure/cpu ] && awk '/^some/{sub("avg10=","",$2); printf ", CPU pressure %s %%", $2}' /proc/pressure/cpu; true; }
log() { echo "# $*" >&2; }

# --- build -----------------------------------------------------------------
log "building into $work"
CGO_ENABLED=0 go build -o "$work/kvs" ./cmd/kvs
CGO_ENABLED=0 go build -o "$work/discard" ./bench/discard
CGO_ENABLED=0 go test -c -o "$work/producer.test" ./producer
before=${KVSKIT_BENCH_BEFORE:-}
if [ -n "$before" ]; then
	before=$(scripts/build-kvs-at.sh "$before" "$work/kvs-before")
fi

# --- inputs ----------------------------------------------------------------
log "making the inputs"
in="$work/in.mkv"
ffmpeg -v error -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
	-t 60 -c:v libx264 -preset ultrafast -b:v 8M -g 60 -bf 0 -c:a aac -b:a 128k -y "$in"
big="$work/big.mkv" # 17 x 60 s, timestamps continuing
ffmpeg -v error -stream_loop 16 -i "$in" -map 0 -c copy -y "$big"
big_bytes=$(stat -c %s "$big")

echo "## Run"
echo
echo "| | |"
echo "| --- | --- |"
echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
echo "| machine | $(nproc) CPUs, $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/{printf "%.0f GB", $2/1048576}' /proc/meminfo) RAM |"
echo "| OS, Go | $(uname -sr), $(go env GOVERSION) |"
echo "| work directory | $(df -T "$work" | awk 'NR==2{print $2 " on " $1}') |"
echo "| inputs | in.mkv: 60 s 1080p30 H.264 8 Mbit/s (x264 ultrafast, GOP 60, no B-frames) + AAC 128 kbit/s, $(stat -c %s "$in") bytes; big.mkv: 17 loops of it, $big_bytes bytes |"
echo

# --- 1. packaging ----------------------------------------------------------
log "1. packaging ($(load))"
load1=$(load)
KVSKIT_BENCH_INPUT="$in" taskset -c 0 "$work/producer.test" -test.run '^$' -test.bench '^BenchmarkPackaging$' \
	-test.cpu 1 -test.count 5 -test.benchmem >"$work/pack.txt"
ours_mbs=$(awk '/^BenchmarkPackaging/{for(i=1;i<NF;i++) if($(i+1)=="MB/s") print $i}' "$work/pack.txt" | median)
allocs_frame=$(awk '/^BenchmarkPackaging/{for(i=1;i<NF;i++) if($(i+1)=="allocs/frame") print $i}' "$work/pack.txt" | median)
allocs_frag=$(awk '/^BenchmarkPackaging/{for(i=1;i<NF;i++) if($(i+1)=="allocs/fragment") print $i}' "$work/pack.txt" | median)
payload=$(awk '/^BenchmarkPackaging/{for(i=1;i<NF;i++) if($(i+1)=="payload-B/op") print $i}' "$work/pack.txt" | head -1)
: >"$work/ff-mkv.txt"
: >"$work/ff-null.txt"
for _ in 1 2 3 4 5; do
	t0=$(now)
	taskset -c 0 ffmpeg -v error -i "$in" -map 0 -c copy -f matroska -y /dev/null
	t1=$(now)
	taskset -c 0 ffmpeg -v error -i "$in" -map 0 -c copy -f null -
	t2=$(now)
	echo $((t1 - t0)) >>"$work/ff-mkv.txt"
	echo $((t2 - t1)) >>"$work/ff-null.txt"
done
ff_mkv_ns=$(median <"$work/ff-mkv.txt")
ff_null_ns=$(median <"$work/ff-null.txt")
ff_mbs=$(awk -v b="$payload" -v t="$ff_mkv_ns" 'BEGIN{printf "%.0f", b/(t/1e9)/1e6}')
ff_null_mbs=$(awk -v b="$payload" -v t="$ff_null_ns" 'BEGIN{printf "%.0f", b/(t/1e9)/1e6}')
ff_mux_mbs=$(awk -v b="$payload" -v t="$ff_mkv_ns" -v n="$ff_null_ns" 'BEGIN{ if (t > n) printf "%.0f", b/((t-n)/1e9)/1e6; else print "n/a" }')

echo "## 1. Packaging, one core ($load1)"
echo
echo "Payload: $payload bytes of frames (both read the same in.mkv). Medians of 5 runs."
echo
echo "| what | command | time per pass | MB/s | ours / it |"
echo "| --- | --- | --- | --- | --- |"
echo "| kvs: fragmenter + session writer into io.Discard, frames in memory | \`KVSKIT_BENCH_INPUT=in.mkv taskset -c 0 producer.test -test.bench '^BenchmarkPackaging\$' -test.cpu 1 -test.count 5\` | $(awk -v b="$payload" -v m="$ours_mbs" 'BEGIN{printf "%.1f ms", b/m/1e3}') | ${ours_mbs%.*} | 1 |"
echo "| ffmpeg remux to Matroska (includes its demux and process start) | \`taskset -c 0 ffmpeg -v error -i in.mkv -map 0 -c copy -f matroska -y /dev/null\` | $(awk -v t="$ff_mkv_ns" 'BEGIN{printf "%.1f ms", t/1e6}') | $ff_mbs | $(awk -v a="$ours_mbs" -v b="$ff_mbs" 'BEGIN{printf "%.1f", a/b}') |"
echo "| ffmpeg demux only (baseline) | \`taskset -c 0 ffmpeg -v error -i in.mkv -map 0 -c copy -f null -\` | $(awk -v t="$ff_null_ns" 'BEGIN{printf "%.1f ms", t/1e6}') | $ff_null_mbs | |"
echo "| ffmpeg Matroska muxing alone (remux time - demux-only time) | | $(awk -v t="$ff_mkv_ns" -v n="$ff_null_ns" 'BEGIN{printf "%.1f ms", (t-n)/1e6}') | $ff_mux_mbs | $(awk -v a="$ours_mbs" -v b="$ff_mux_mbs" 'BEGIN{ if (b+0 > 0) printf "%.1f", a/b; else print "n/a" }') |"
echo
echo "Allocations (ours): $allocs_frame per frame on average, $allocs_frag per fragment."
echo

# --- 2. upload -------------------------------------------------------------
# serve DATADIR NAME: starts kvs serve on DATADIR; sets url_NAME and pid_NAME
serve() {
	local dir=$1 name=$2
	"$work/kvs" serve --listen 127.0.0.1:0 --data-dir "$dir" --log-level warn \
		--max-bytes-per-second 1e12 --max-fragments-per-second 1000 >"$work/serve-$name.out" 2>&1 &
	pids+=($!)
	printf -v "pid_$name" '%s' $!
	for _ in $(seq 100); do grep -q "ready at" "$work/serve-$name.out" && break; sleep 0.1; done
	printf -v "url_$name" '%s' "$(sed -n 's/.*ready at \(http:[^ ]*\).*/\1/p' "$work/serve-$name.out")"
}
# envfor NAME DATADIR: sets envargs to an env(1) command line with the AWS
# environment of that server and nothing else of the caller's
envfor() {
	local url=url_$1
	envargs=(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE -u AWS_CA_BUNDLE
		-u AWS_ENDPOINT_URL AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE="$2/credentials"
		AWS_REGION=us-east-1 AWS_ENDPOINT_URL_KINESIS_VIDEO="${!url}")
}
# timed OUT CMD...: runs CMD, appends "wall user sys" (seconds) to OUT
timed() {
	local out=$1 TIMEFORMAT='%R %U %S'
	shift
	{ time "$@" >/dev/null 2>"$out.log"; } 2>>"$out" || { cat "$out.log" >&2; return 1; }
}

log "2. upload ($(load))"
load2=$(load)
serve "$work/data" disk
use_shm=false
if [ -d /dev/shm ] && [ "$(df -k --output=avail /dev/shm | tail -1)" -gt $((2 * big_bytes / 1024)) ]; then
	use_shm=true
fi
"$work/discard" -listen 127.0.0.1:0 >"$work/discard.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/discard.out" && break; sleep 0.1; done
discard_url="http://$(sed -n 's/listening on //p' "$work/discard.out")/discard"
put_flags=(--create-stream --max-bytes-per-second -1 --max-fragments-per-second -1 --output json)
# Four rounds; within a round the versions take turns going first, and each
# run starts after a pause, so that no version always follows the aftermath
# of another (the endpoint's garbage collection, the kernel's writeback).
for i in 1 2 3 4; do
	if [ $((i % 2)) = 0 ] && [ -n "$before" ]; then versions=(kvs-before kvs); else versions=(kvs ${before:+kvs-before}); fi
	timed "$work/up-curl.txt" curl -sS -T "$big" -H 'Transfer-Encoding: chunked' -o /dev/null "$discard_url"
	for b in "${versions[@]}"; do
		sleep 2
		envfor disk "$work/data"
		timed "$work/up-put-disk-$b.txt" "${envargs[@]}" "$work/$b" put "$big" --stream "$b-$i" "${put_flags[@]}"
		sleep 2
		timed "$work/up-put-live-$b.txt" "${envargs[@]}" "$work/$b" put "$big" --stream "$b-live-$i" --retention 0 "${put_flags[@]}"
	done
	$use_shm || continue
	for b in "${versions[@]}"; do # a fresh endpoint each time, so that tmpfs holds one copy
		sleep 2
		shm=$(mktemp -d /dev/shm/kvs-producer-bench.XXXXXX)
		serve "$shm/data" shm
		envfor shm "$shm/data"
		timed "$work/up-put-shm-$b.txt" "${envargs[@]}" "$work/$b" put "$big" --stream "$b-$i" "${put_flags[@]}"
		kill "$pid_shm"
		wait "$pid_shm" 2>/dev/null || true
		rm -rf "$shm"
		shm=""
	done
done
sleep 2
timed "$work/up-dd.txt" dd if="$big" of="$work/data/dd.out" bs=2M oflag=dsync
rm -f "$work/data/dd.out"
up_row() { # label command file
	local wall
	[ -s "$3" ] || return 0
	wall=$(awk '{print $1}' "$3" | median)
	printf '| %s | `%s` | %s | %.2f s | %.0f | %s | %s |\n' "$1" "$2" "$(awk '{printf "%s%.2f", (NR>1 ? ", " : ""), $1}' "$3")" "$wall" \
		"$(awk -v b="$big_bytes" -v t="$wall" 'BEGIN{print b/t/1e6}')" \
		"$(awk -v c="$curl_wall" -v t="$wall" 'BEGIN{printf "%.2f", c/t}')" \
		"$(awk '{print $2+$3}' "$3" | median | awk '{printf "%.2f s", $1}')"
}
curl_wall=$(awk '{print $1}' "$work/up-curl.txt" | median)
echo "## 2. Upload of big.mkv over loopback ($load2)"
echo
echo "$big_bytes bytes; MB/s = file bytes / wall time (median of the runs); \`kvs serve --max-bytes-per-second 1e12 --max-fragments-per-second 1000\`, fsync on unless said otherwise."
echo
echo "| what | command | wall times | median | MB/s | x of curl | CPU of the client (user+sys) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
up_row "curl to a discarding Go handler (peer)" "curl -sS -T big.mkv -H 'Transfer-Encoding: chunked' http://127.0.0.1:PORT/discard" "$work/up-curl.txt"
up_row "kvs put into kvs serve, data on disk" "kvs put big.mkv --stream NAME --create-stream --max-bytes-per-second -1 --max-fragments-per-second -1" "$work/up-put-disk-kvs.txt"
up_row "the same, kvs serve's data on tmpfs (fsync free)" "(same)" "$work/up-put-shm-kvs.txt"
up_row "the same, a stream that stores nothing (live readers only)" "kvs put ... --retention 0 (same flags)" "$work/up-put-live-kvs.txt"
if [ -n "$before" ]; then
	up_row "kvs put built from $before, data on disk" "(same)" "$work/up-put-disk-kvs-before.txt"
	up_row "kvs put built from $before, data on tmpfs" "(same)" "$work/up-put-shm-kvs-before.txt"
	up_row "kvs put built from $before, storing nothing" "(same, --retention 0)" "$work/up-put-live-kvs-before.txt"
fi
up_row "reference: the disk, 2 MB synchronous writes" "dd if=big.mkv of=DATA/dd.out bs=2M oflag=dsync" "$work/up-dd.txt"
echo

# --- 3. real time ----------------------------------------------------------
# sample PID OUT: samples the process every 0.5 s until it ends and writes
# "wall_s cpu_s hwm_kB max_anon_kB max_file_kB"
sample() {
	local pid=$1 out=$2 t0 t1 st hwm=0 anon=0 file=0 cpu=0 s h a f
	t0=$(now)
	t1=$t0
	while st=$(cat /proc/"$pid"/status 2>/dev/null) && ! grep -q '^State:.*Z' <<<"$st"; do
		s=$(awk '{print $14+$15}' /proc/"$pid"/stat 2>/dev/null) || break
		cpu=$s
		t1=$(now)
		read -r h a f < <(awk '/^VmHWM/{h=$2} /^RssAnon/{a=$2} /^RssFile/{f=$2} END{print h+0, a+0, f+0}' <<<"$st")
		hwm=$((h > hwm ? h : hwm))
		anon=$((a > anon ? a : anon))
		file=$((f > file ? f : file))
		sleep 0.5
	done
	awk -v t0="$t0" -v t1="$t1" -v c="$cpu" -v tk="$tick" -v h="$hwm" -v a="$anon" -v f="$file" \
		'BEGIN{printf "%.2f %.2f %d %d %d\n", (t1-t0)/1e9, c/tk, h, a, f}' >"$out"
}
log "3. real time, 60 s ($(load))"
load3=$(load)
# A copy of the binary, not in the page cache, as an installed one would be
# (a binary just written by the linker has all its pages cached, and more of
# them get mapped).
cp "$work/kvs" "$work/kvs-put"
dd if="$work/kvs-put" iflag=nocache count=0 status=none
envfor disk "$work/data"
"${envargs[@]}" "$work/kvs-put" put "$in" --stream realtime --create-stream --realtime --output json >/dev/null 2>"$work/rt-kvs.log" &
kvs_pid=$!
# The same with Go's default collector target, for comparison (kvs runs
# put --realtime at GOGC=25 when GOGC is not set).
cp "$work/kvs" "$work/kvs-put-gogc"
dd if="$work/kvs-put-gogc" iflag=nocache count=0 status=none
GOGC=100 "${envargs[@]}" "$work/kvs-put-gogc" put "$in" --stream realtime-gogc --create-stream --realtime --output json \
	>/dev/null 2>"$work/rt-gogc.log" &
gogc_pid=$!
sample "$gogc_pid" "$work/rt-gogc.txt" &
w3=$!
if [ -n "$before" ]; then
	cp "$work/kvs-before" "$work/kvs-put-before"
	dd if="$work/kvs-put-before" iflag=nocache count=0 status=none
	"${envargs[@]}" "$work/kvs-put-before" put "$in" --stream realtime-before --create-stream --realtime --output json \
		>/dev/null 2>"$work/rt-before.log" &
	before_pid=$!
	sample "$before_pid" "$work/rt-before.txt" &
	w2=$!
fi
ffmpeg -v error -re -i "$in" -map 0 -c copy -f matroska -y /dev/null 2>"$work/rt-ff.log" &
ff_pid=$!
sample "$kvs_pid" "$work/rt-kvs.txt" &
w1=$!
sample "$ff_pid" "$work/rt-ff.txt"
wait "$w1"
wait "$kvs_pid" || { echo "kvs put --realtime failed:" >&2; cat "$work/rt-kvs.log" >&2; exit 1; }
wait "$ff_pid"
wait "$w3"
wait "$gogc_pid" || { echo "kvs put --realtime (GOGC=100) failed:" >&2; cat "$work/rt-gogc.log" >&2; exit 1; }
if [ -n "$before" ]; then
	wait "$w2"
	wait "$before_pid" || { echo "kvs put --realtime ($before) failed:" >&2; cat "$work/rt-before.log" >&2; exit 1; }
fi
rt_row() { # label command file
	read -r wall cpu hwm anon file <"$3"
	printf '| %s | `%s` | %.1f s | %.2f s | %.2f %% | %.1f | %.1f | %.1f |\n' "$1" "$2" "$wall" "$cpu" \
		"$(awk -v c="$cpu" -v w="$wall" 'BEGIN{print 100*c/w}')" \
		"$(awk -v k="$hwm" 'BEGIN{print k/1024}')" "$(awk -v k="$anon" 'BEGIN{print k/1024}')" "$(awk -v k="$file" 'BEGIN{print k/1024}')"
}
echo "## 3. Real-time pass-through of in.mkv, side by side ($load3)"
echo
echo "Peak resident memory (VmHWM) and, apart, the largest anonymous (heap, stacks) and file-backed (mapped binary and libraries) parts seen; CPU = (utime + stime) / wall, whole process lifetime."
echo
echo "| process | command | wall | CPU time | CPU share of one core | peak RSS (MB) | anon (MB) | file-backed (MB) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
rt_row "kvs put --realtime into kvs serve" "kvs put in.mkv --stream realtime --create-stream --realtime" "$work/rt-kvs.txt"
if [ -n "$before" ]; then
	rt_row "kvs put --realtime built from $before" "(same)" "$work/rt-before.txt"
fi
rt_row "kvs put --realtime, GOGC=100 (Go's default; comparison)" "GOGC=100 kvs put ... (same)" "$work/rt-gogc.txt"
rt_row "ffmpeg -re pass-through (peer)" "ffmpeg -v error -re -i in.mkv -map 0 -c copy -f matroska -y /dev/null" "$work/rt-ff.txt"
