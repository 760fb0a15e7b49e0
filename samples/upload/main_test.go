package main

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"kvskit/samples/clip"
	"kvskit/server"
)

// TestUploadSample runs the sample against an in-process local endpoint.
func TestUploadSample(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "upload")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	srv, err := server.New(server.Config{
		DataDir:     filepath.Join(dir, "data"),
		Credentials: map[string]string{"AKIASAMPLESAMPLE0001": "samplesecretsamplesecretsamplesecret0001"},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer func() { ts.CloseClientConnections(); ts.Close(); srv.Close() }()
	file := filepath.Join(dir, clip.Name)
	if err := os.WriteFile(file, clip.MKV, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-stream", "sample", "-endpoint", ts.URL, file)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIASAMPLESAMPLE0001",
		"AWS_SECRET_ACCESS_KEY=samplesecretsamplesecretsamplesecret0001", "AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PROFILE=", "AWS_EC2_METADATA_DISABLED=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "5 fragments persisted") {
		t.Fatalf("want the 10 s clip in 5 fragments persisted:\n%s", out)
	}
}
