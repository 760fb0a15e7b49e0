package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kvs runs the kvs binary as a client of p.
func (p *serveProc) kvs(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(kvsBin, args...)
	cmd.Env = append(p.Env(), "AWS_ENDPOINT_URL_KINESIS_VIDEO="+p.URL)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func TestGetCommands(t *testing.T) {
	dir := t.TempDir()
	clip := makeClip(t, dir, 4)
	p := startServe(t, filepath.Join(dir, "data"))
	createStream(t, p, "getter", 1)
	start := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	acks := upload(t, p, "getter", clip, "--start", fmt.Sprintf("%.3f", float64(start.UnixMilli())/1000))
	persisted := countEvents(acks, "PERSISTED")

	out, errOut, err := p.kvs(t, "get", "fragments", "--stream", "getter", "--output", "json")
	if err != nil {
		t.Fatalf("get fragments: %v %s", err, errOut)
	}
	var numbers []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var f struct{ FragmentNumber string }
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("json line %q: %v", sc.Text(), err)
		}
		numbers = append(numbers, f.FragmentNumber)
	}
	if len(numbers) != persisted {
		t.Fatalf("get fragments listed %d, %d were persisted", len(numbers), persisted)
	}
	// A time range on server timestamps that excludes everything.
	out, _, err = p.kvs(t, "get", "fragments", "--stream", "getter", "--output", "json", "--timestamp", "server",
		"--start", "2000-01-01T00:00:00Z", "--end", "2000-01-02T00:00:00Z")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("empty server-time range: %v %q", err, out)
	}

	mkvOut := filepath.Join(dir, "got.mkv")
	tagsOut := filepath.Join(dir, "tags.jsonl")
	if _, errOut, err := p.kvs(t, "get", "media", "--stream", "getter", "--start", "earliest", "-o", mkvOut, "--tags", tagsOut); err != nil {
		t.Fatalf("get media: %v %s", err, errOut)
	}
	equalHashes(t, "kvs get media video", framemd5(t, clip, "v:0"), framemd5(t, mkvOut, "v:0"))
	b, err := os.ReadFile(tagsOut)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != persisted {
		t.Fatalf("%d tag lines for %d fragments", len(lines), persisted)
	}
	var first struct {
		FragmentNumber, ProducerTimestamp string
		Frames                            int
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.FragmentNumber != numbers[0] || first.Frames == 0 {
		t.Fatalf("first tag line %q (%v)", lines[0], err)
	}
	// --fragments uses GetMediaForFragmentList.
	listOut := filepath.Join(dir, "list.mkv")
	if _, errOut, err := p.kvs(t, "get", "media", "--stream", "getter", "--fragments", strings.Join(numbers, ","), "-o", listOut); err != nil {
		t.Fatalf("get media --fragments: %v %s", err, errOut)
	}
	equalHashes(t, "kvs get media --fragments audio", framemd5(t, clip, "a:0"), framemd5(t, listOut, "a:0"))
	// A missing stream is a clear error and a failing exit status.
	_, errOut, err = p.kvs(t, "get", "fragments", "--stream", "nope")
	if err == nil || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Fatalf("missing stream: %v %s", err, errOut)
	}
}
