package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadCaptureConfig(t *testing.T) {
	c, err := loadCaptureConfig(filepath.Join("..", "..", "samples", "systemd", "cameras.yaml"), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Cameras) != 2 || c.Cameras[1].Stream != "door" || c.Cameras[1].FragmentDuration != 2*time.Second ||
		!strings.HasPrefix(c.Cameras[0].Source, "v4l2://") || c.Cameras[1].retention() != 168 {
		t.Fatalf("sample config read as %+v", c)
	}
	bad := map[string]string{
		"unknown field":      "cameras:\n  - source: test://\n    stream: a\n    colour: red\n",
		"no cameras":         "cameras: []\n",
		"no stream":          "cameras:\n  - source: test://\n",
		"same stream":        "cameras:\n  - {source: test://, stream: a}\n  - {source: test://, stream: a}\n",
		"negative retention": "cameras:\n  - {source: test://, stream: a, retention_hours: -1}\n",
		"bad spool_max":      "cameras:\n  - {source: test://, stream: a, spool: /s, spool_max: lots}\n",
	}
	// retention_hours left out means the same as the --retention default;
	// an explicit 0 is kept.
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("cameras:\n  - {source: test://, stream: a, create_stream: true}\n  - {source: test://, stream: b, retention_hours: 0}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err := loadCaptureConfig(p, "", 0); err != nil || c.Cameras[0].retention() != 24 || c.Cameras[1].retention() != 0 {
		t.Fatalf("retention read as %d and %d (%v), want 24 and 0", c.Cameras[0].retention(), c.Cameras[1].retention(), err)
	}
	for name, text := range bad {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := loadCaptureConfig(p, "", 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Cameras sharing a spool directory each get their own subdirectory; the
// --spool and --spool-max flags apply to cameras that set neither.
func TestCaptureConfigSpool(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	text := "cameras:\n" +
		"  - {source: test://, stream: a}\n" +
		"  - {source: test://, stream: b, spool: /var/spool/other, spool_max: 2G}\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := loadCaptureConfig(p, "/var/spool/kvs", 500<<20)
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Cameras[0], c.Cameras[1]
	if a.spoolDir() != "/var/spool/kvs/a" || a.SpoolMax != 500<<20 || b.spoolDir() != "/var/spool/other/b" || b.SpoolMax != 2<<30 {
		t.Fatalf("spools %q %d, %q %d", a.spoolDir(), a.SpoolMax, b.spoolDir(), b.SpoolMax)
	}
	if (cameraConfig{Stream: "x"}).spoolDir() != "" {
		t.Fatal("a camera without a spool has a spool directory")
	}
}
