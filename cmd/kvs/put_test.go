package main

import "testing"

func TestParseSize(t *testing.T) {
	good := map[string]int64{"16MB": 16e6, "64MiB": 64 << 20, "8000000": 8e6, "1.5GB": 15e8, "512 KiB": 512 << 10, "2m": 2e6}
	for in, want := range good {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1MB", "16XB", "1e20", "2TB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}
