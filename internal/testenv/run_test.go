package testenv

import (
	"bytes"
	"testing"
)

func TestParseHexdump(t *testing.T) {
	dump := "00000000: 0164 000d ffe1 0019 6764 000d acd9 4141  .d......gd....AA\n00000010: 01                                       .\n"
	want := []byte{0x01, 0x64, 0x00, 0x0d, 0xff, 0xe1, 0x00, 0x19, 0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0x01}
	if got := ParseHexdump(t, dump); !bytes.Equal(got, want) {
		t.Fatalf("got % x", got)
	}
}

func TestRun(t *testing.T) {
	if out := Run(t, "sh", "-c", "echo hello; echo ignored >&2"); string(out) != "hello\n" {
		t.Fatalf("stdout %q", out)
	}
}
