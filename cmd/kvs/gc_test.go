package main

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestTuneGCForStreaming(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })

	t.Run("default", func(t *testing.T) {
		t.Setenv("GOGC", "")
		// t.Setenv cannot unset; os.Unsetenv is undone by the Setenv cleanup.
		unsetenv(t, "GOGC")
		debug.SetGCPercent(100)
		if got := tuneGCForStreaming(); got != streamingGCPercent {
			t.Fatalf("tuneGCForStreaming() = %d, want %d", got, streamingGCPercent)
		}
		if got := debug.SetGCPercent(100); got != streamingGCPercent {
			t.Fatalf("GC percent in effect = %d, want %d", got, streamingGCPercent)
		}
	})
	t.Run("GOGC set", func(t *testing.T) {
		t.Setenv("GOGC", "80")
		debug.SetGCPercent(80) // what the runtime read from GOGC at start
		if got := tuneGCForStreaming(); got != 80 {
			t.Fatalf("tuneGCForStreaming() = %d, want the user's 80", got)
		}
		if got := debug.SetGCPercent(100); got != 80 {
			t.Fatalf("GC percent in effect = %d, want 80", got)
		}
	})
}

// unsetenv removes key for the rest of the test; call t.Setenv(key, ...) first
// so that the old value comes back afterwards.
func unsetenv(t *testing.T, key string) {
	t.Helper()
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}
