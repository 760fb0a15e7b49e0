package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadCaptureConfig(t *testing.T) {
	c, err := loadCaptureConfig(filepath.Join("..", "..", "samples", "systemd", "cameras.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Cameras) != 2 || c.Cameras[1].Stream != "door" || c.Cameras[1].FragmentDuration != 2*time.Second ||
		!strings.HasPrefix(c.Cameras[0].Source, "v4l2://") || c.Cameras[1].RetentionHours != 168 {
		t.Fatalf("sample config read as %+v", c)
	}
	bad := map[string]string{
		"unknown field": "cameras:\n  - source: test://\n    stream: a\n    colour: red\n",
		"no cameras":    "cameras: []\n",
		"no stream":     "cameras:\n  - source: test://\n",
		"same stream":   "cameras:\n  - {source: test://, stream: a}\n  - {source: test://, stream: a}\n",
	}
	for name, text := range bad {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := loadCaptureConfig(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
