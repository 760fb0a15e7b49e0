package main

import "testing"

func TestParseSize(t *testing.T) {
	good := map[string]byteSize{"16MB": 16e6, "64MiB": 64 << 20, "8000000": 8e6, "1.5GB": 15e8, "512 KiB": 512 << 10,
		"2m": 2 << 20, "500M": 500 << 20, "1.5G": 3 << 29, "64kb": 64e3, "2TB": 2e12}
	for in, want := range good {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1MB", "0", "16XB", "1e20", "2PB", "lots"} {
		if got, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) = %d, want an error", in, got)
		}
	}
}
