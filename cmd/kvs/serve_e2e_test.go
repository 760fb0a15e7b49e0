package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/aws/aws-sdk-go-v2/aws"

	"kvskit/internal/awsauth"
	"kvskit/internal/testenv"
)

func TestServeReadyCredentialsAndShutdown(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, dir)
	if !strings.Contains(p.Stdout(), "AWS_SHARED_CREDENTIALS_FILE="+p.Creds) {
		t.Errorf("ready output does not say how to point the AWS CLI at the credentials:\n%s", p.Stdout())
	}
	profiles, err := awsauth.LoadCredentialsFile(p.Creds)
	if err != nil || profiles["default"].AccessKeyID == "" {
		t.Fatalf("generated credentials: %v %+v", err, profiles)
	}
	p.Stop()
	if !strings.Contains(p.Stdout(), "stopped") {
		t.Errorf("no clean stop line after SIGTERM:\n%s\n%s", p.Stdout(), p.Stderr())
	}
	// The credentials are kept across restarts.
	p2 := startServe(t, dir)
	again, err := awsauth.LoadCredentialsFile(p2.Creds)
	if err != nil || again["default"] != profiles["default"] {
		t.Fatalf("credentials changed across restart: %+v vs %+v (%v)", again, profiles, err)
	}
}

func TestControlPlaneBoto3(t *testing.T) {
	p := startServe(t, t.TempDir())
	out, err := p.python(t, "controlplane.py", p.URL, p.Region)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "all checks passed") {
		t.Fatalf("control-plane script did not finish:\n%s", out)
	}
	t.Logf("%d checks", strings.Count(out, "ok:"))
}

func TestControlPlaneAWSCLI(t *testing.T) {
	p := startServe(t, t.TempDir())
	out, errOut, err := p.aws(t, "kinesisvideo", "create-stream", "--stream-name", "cli-stream",
		"--data-retention-in-hours", "1", "--tags", "a=b")
	if err != nil {
		t.Fatalf("create-stream: %v\n%s", err, errOut)
	}
	var created struct{ StreamARN string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || !strings.Contains(created.StreamARN, ":stream/cli-stream/") {
		t.Fatalf("create-stream output %q: %v", out, err)
	}
	out, errOut, err = p.aws(t, "kinesisvideo", "describe-stream", "--stream-name", "cli-stream")
	if err != nil || !strings.Contains(out, `"Status": "ACTIVE"`) {
		t.Fatalf("describe-stream: %v %s %s", err, out, errOut)
	}
	out, _, err = p.aws(t, "kinesisvideo", "list-streams")
	if err != nil || !strings.Contains(out, "cli-stream") {
		t.Fatalf("list-streams: %v %s", err, out)
	}
	out, _, err = p.aws(t, "kinesisvideo", "get-data-endpoint", "--stream-name", "cli-stream", "--api-name", "PUT_MEDIA")
	if err != nil || !strings.Contains(out, p.URL) {
		t.Fatalf("get-data-endpoint: %v %s", err, out)
	}
	_, errOut, err = p.aws(t, "kinesisvideo", "describe-stream", "--stream-name", "missing")
	if err == nil || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Fatalf("describe-stream of a missing stream: err=%v stderr=%s", err, errOut)
	}
	// The wrong region is refused by the signature check.
	full := []string{"--region", "eu-west-1", "kinesisvideo", "list-streams"}
	_, errOut, err = p.aws(t, full...)
	if err == nil || !strings.Contains(errOut, "eu-west-1") {
		t.Fatalf("wrong region not refused with a message naming it: err=%v stderr=%s", err, errOut)
	}
	out, errOut, err = p.aws(t, "kinesisvideo", "create-signaling-channel", "--channel-name", "cli-chan")
	if err != nil || !strings.Contains(out, ":channel/cli-chan/") {
		t.Fatalf("create-signaling-channel: %v %s %s", err, out, errOut)
	}
}

// otherSecret returns a secret that differs from s in its first character.
func otherSecret(s string) string {
	if strings.HasPrefix(s, "A") {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// signedRequest builds a request signed by the AWS SDK's signer.
func signedRequest(t *testing.T, url, op, region, akid, secret string, when time.Time, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/"+op, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := awsauth.EmptyPayloadHash
	if len(body) > 0 {
		sum = sha256Hex(body)
	}
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
		req, sum, "kinesisvideo", region, when)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestAuthRefusals(t *testing.T) {
	p := startServe(t, t.TempDir())
	profiles, err := awsauth.LoadCredentialsFile(p.Creds)
	if err != nil {
		t.Fatal(err)
	}
	c := profiles["default"]
	body := []byte(`{}`)
	cases := []struct {
		name string
		req  func() *http.Request
		code string
		msg  string
	}{
		{"unsigned", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, p.URL+"/listStreams", bytes.NewReader(body))
			return r
		}, "MissingAuthenticationTokenException", ""},
		{"wrong secret", func() *http.Request {
			return signedRequest(t, p.URL, "listStreams", p.Region, c.AccessKeyID, otherSecret(c.SecretAccessKey), time.Now(), body)
		}, "InvalidSignatureException", "signature"},
		{"unknown key", func() *http.Request {
			return signedRequest(t, p.URL, "listStreams", p.Region, "AKIAUNKNOWNKEY000000", c.SecretAccessKey, time.Now(), body)
		}, "UnrecognizedClientException", ""},
		{"wrong region", func() *http.Request {
			return signedRequest(t, p.URL, "listStreams", "ap-south-1", c.AccessKeyID, c.SecretAccessKey, time.Now(), body)
		}, "InvalidSignatureException", "ap-south-1"},
		{"stale date", func() *http.Request {
			return signedRequest(t, p.URL, "listStreams", p.Region, c.AccessKeyID, c.SecretAccessKey, time.Now().Add(-10*time.Minute), body)
		}, "InvalidSignatureException", "expired"},
		{"putmedia unsigned", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, p.URL+"/putMedia", strings.NewReader("x"))
			r.Header.Set("x-amzn-stream-name", "any")
			return r
		}, "MissingAuthenticationTokenException", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(tc.req())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct{ Message string }
			_ = json.NewDecoder(resp.Body).Decode(&out)
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("x-amzn-ErrorType") != tc.code {
				t.Fatalf("status %d type %q, want 403 %s (%s)", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), tc.code, out.Message)
			}
			if !strings.Contains(strings.ToLower(out.Message), strings.ToLower(tc.msg)) {
				t.Errorf("message %q does not say what did not match (%q)", out.Message, tc.msg)
			}
		})
	}
	// botocore with a wrong secret.
	if _, err := p.python(t, "putmedia.py", p.URL, p.Region, "nostream", "/dev/null", "--secret", "wrong"); err == nil ||
		!strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Errorf("boto3 with a wrong secret: %v", err)
	}
}

// makeClip encodes a test clip with ffmpeg: H.264 (no B-frames, a key frame
// every second) and AAC, in Matroska.
func makeClip(t *testing.T, dir string, seconds int) string {
	t.Helper()
	ff := testenv.Tool(t, "ffmpeg")
	out := filepath.Join(dir, "clip.mkv")
	run(t, ff, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(seconds), "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "30",
		"-c:a", "aac", "-b:a", "64k", "-y", out)
	return out
}

// framemd5 returns the per-packet hashes of one stream, copied without decoding.
func framemd5(t *testing.T, file, stream string) []string {
	t.Helper()
	ff := testenv.Tool(t, "ffmpeg")
	out := run(t, ff, "-v", "error", "-i", file, "-map", "0:"+stream, "-c", "copy", "-f", "framemd5", "-")
	var hashes []string
	for _, line := range strings.Split(out, "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue // comments, and ffmpeg's warnings ("[matroska,webm @ ...] ...")
		}
		// stream, dts, pts, duration, size, hash[, side data count and hashes]
		f := strings.Split(line, ",")
		if len(f) < 6 {
			t.Fatalf("framemd5 line %q", line)
		}
		hashes = append(hashes, strings.TrimSpace(f[5]))
	}
	return hashes
}

func equalHashes(t *testing.T, what string, want, got []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: source has no frames", what)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames came back, %d were sent", what, len(got), len(want))
	}
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("%s: frame %d differs (%s vs %s)", what, i, got[i], want[i])
		}
	}
}

func createStream(t *testing.T, p *serveProc, name string, retention int) {
	t.Helper()
	if _, errOut, err := p.aws(t, "kinesisvideo", "create-stream", "--stream-name", name,
		"--data-retention-in-hours", strconv.Itoa(retention)); err != nil {
		t.Fatalf("create-stream %s: %v %s", name, err, errOut)
	}
}

// upload sends a file with putmedia.py and checks every fragment is PERSISTED.
func upload(t *testing.T, p *serveProc, stream, file string, extra ...string) []ackLine {
	t.Helper()
	out, err := p.python(t, "putmedia.py", append([]string{p.URL, p.Region, stream, file}, extra...)...)
	if err != nil {
		t.Fatalf("putmedia: %v\n%s", err, out)
	}
	status, acks := parseAcks(t, out)
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("putmedia status %q:\n%s", status, out)
	}
	b, r, pe, e := countEvents(acks, "BUFFERING"), countEvents(acks, "RECEIVED"), countEvents(acks, "PERSISTED"), countEvents(acks, "ERROR")
	if e != 0 || b == 0 || b != r || r != pe {
		t.Fatalf("acks: %d BUFFERING, %d RECEIVED, %d PERSISTED, %d ERROR:\n%s", b, r, pe, e, out)
	}
	return acks
}

func TestPutMediaRoundTrip(t *testing.T) {
	dir := t.TempDir()
	clip := makeClip(t, dir, 6)
	mkvmerge := testenv.Tool(t, "mkvmerge")
	merged := filepath.Join(dir, "merged.mkv")
	run(t, mkvmerge, "-q", "-o", merged, clip)
	p := startServe(t, filepath.Join(dir, "data"))
	for _, tc := range []struct{ name, file, style string }{
		{"ffmpeg", clip, "empty"},
		{"mkvmerge", merged, "unsigned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := "rt-" + tc.name
			createStream(t, p, stream, 1)
			start := float64(time.Now().Add(-time.Hour).UnixMilli()) / 1000
			acks := upload(t, p, stream, tc.file, "--style", tc.style, "--start", fmt.Sprintf("%.3f", start))
			t.Logf("%s: %d fragments persisted", tc.name, countEvents(acks, "PERSISTED"))
			out, err := p.python(t, "getmedia.py", p.URL, p.Region, stream, filepath.Join(dir, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			var first struct{ Producer float64 }
			if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &first); err != nil {
				t.Fatalf("fragment list: %v\n%s", err, out)
			}
			if d := first.Producer - start; d < 0 || d > 0.1 {
				t.Errorf("first producer timestamp %.3f, want the start %.3f", first.Producer, start)
			}
			for _, got := range []string{"list.mkv", "getmedia.mkv"} {
				f := filepath.Join(dir, tc.name, got)
				equalHashes(t, tc.name+" video via "+got, framemd5(t, tc.file, "v:0"), framemd5(t, f, "v:0"))
				equalHashes(t, tc.name+" audio via "+got, framemd5(t, tc.file, "a:0"), framemd5(t, f, "a:0"))
			}
		})
	}
}

func TestPutMediaRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, filepath.Join(dir, "data"))
	createStream(t, p, "junk", 1)
	createStream(t, p, "good", 1)
	junk := filepath.Join(dir, "junk.bin")
	b := make([]byte, 256<<10)
	_, _ = rand.Read(b)
	if err := os.WriteFile(junk, b, 0o644); err != nil {
		t.Fatal(err)
	}
	clip := makeClip(t, dir, 3)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		upload(t, p, "good", clip) // another stream keeps being served
	}()
	out, err := p.python(t, "putmedia.py", p.URL, p.Region, "junk", junk)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	_, acks := parseAcks(t, out)
	if len(acks) == 0 || acks[len(acks)-1].ErrorID != 4006 || countEvents(acks, "PERSISTED") != 0 {
		t.Fatalf("random bytes: want ERROR 4006 and nothing persisted, got:\n%s", out)
	}
	// A missing stream is refused before the body.
	out, err = p.python(t, "putmedia.py", p.URL, p.Region, "nostream", clip)
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("missing stream: %v\n%s", err, out)
	}
}
