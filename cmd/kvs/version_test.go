package main

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// kvs --version names the version, commit, Go version and platform, and the
// encoders of the build; a version stamped with -ldflags is shown as given.
func TestVersion(t *testing.T) {
	out, err := exec.Command(kvsBin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("kvs --version: %v\n%s", err, out)
	}
	for _, want := range []string{"kvs ", "commit: ", "commit date: ", "go: " + runtime.Version(), "encoders: v4l2-m2m"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kvs --version lacks %q:\n%s", want, out)
		}
	}
	old := version
	defer func() { version = old }()
	version = "9.8.7"
	if v := versionText(); !strings.HasPrefix(v, "9.8.7\n") {
		t.Errorf("stamped version: %q", v)
	}
}

// --stream-name, the AWS CLI's name, is taken wherever --stream is.
func TestStreamNameFlag(t *testing.T) {
	for _, args := range [][]string{
		{"put", "--stream-name", "s1", "/nonexistent/file.mkv"},
		{"get", "media", "--stream-name", "s1", "-o", "/dev/null", "--endpoint-url", "http://127.0.0.1:1", "--region", "us-east-1"},
	} {
		out, _ := exec.Command(kvsBin, args...).CombinedOutput()
		if s := string(out); strings.Contains(s, "unknown flag") || strings.Contains(s, "--stream is required") {
			t.Errorf("kvs %s: --stream-name not taken:\n%s", strings.Join(args, " "), s)
		}
	}
}
