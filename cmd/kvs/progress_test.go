package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestProgressModes(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, mode: "bar", total: 1000, began: time.Now().Add(-time.Second)}
	p.bytes, p.frags, p.persist = 500, 3, 2
	p.draw(time.Now(), false)
	out := b.String()
	for _, want := range []string{"\r[", " 50% ", "3 fragments, 2 persisted", "ETA"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar %q lacks %q", out, want)
		}
	}
	b.Reset()
	p.mode = "json"
	p.draw(time.Now(), true)
	var ev map[string]any
	if err := json.Unmarshal(b.Bytes(), &ev); err != nil || ev["event"] != "done" || ev["persisted"] != float64(2) {
		t.Errorf("json line %q: %v", b.String(), err)
	}
	b.Reset()
	p.mode = "plain"
	p.draw(time.Now(), false)
	if !strings.Contains(b.String(), "500 B sent, 3 fragments, 2 persisted") || strings.Contains(b.String(), "\r") {
		t.Errorf("plain line %q", b.String())
	}
}
