package testenv

import (
	"bytes"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
)

// Run runs an external tool (found with Tool) and returns its standard
// output, failing the test with the tool's standard error when it fails.
func Run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(Tool(t, name), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// ParseHexdump decodes the hex dump ffprobe -show_data prints
// ("00000000: 0164 000d ...  ascii").
func ParseHexdump(t testing.TB, dump string) []byte {
	t.Helper()
	var out []byte
	for _, line := range strings.Split(dump, "\n") {
		if len(line) < 10 {
			continue
		}
		h := line[10:min(len(line), 49)]
		b, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
		if err != nil {
			t.Fatalf("hexdump line %q: %v", line, err)
		}
		out = append(out, b...)
	}
	return out
}
