// Package testenv helps tests find the external tools they exercise (ffmpeg,
// mkvmerge, the AWS CLI, boto3, GStreamer). A test that needs a missing tool is
// skipped on a developer machine but fails when CI=true, so CI never passes by
// skipping what it was meant to check.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test, or fails it under CI, naming what is missing.
func Missing(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is required under CI=true but missing; install it with 'make deps'", what)
	}
	t.Skipf("%s not available; skipping (install it with 'make deps')", what)
}

// Tool returns the path of the named program, skipping (or failing under CI)
// when it is not installed.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name)
	}
	return p
}

// Python returns a python3 that can import the given modules.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	py := Tool(t, "python3")
	for _, m := range modules {
		if err := exec.Command(py, "-c", "import "+m).Run(); err != nil {
			Missing(t, "python module "+m)
		}
	}
	return py
}
