package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSeedFile(t *testing.T) {
	got, err := SeedFile([]byte("a\x00\"b"), true, 7, "s", uint64(9))
	if err != nil {
		t.Fatal(err)
	}
	want := "go test fuzz v1\n[]byte(\"a\\x00\\\"b\")\nbool(true)\nint(7)\nstring(\"s\")\nuint64(9)\n"
	if string(got) != want {
		t.Fatalf("SeedFile = %q, want %q", got, want)
	}
	if _, err := SeedFile(1.5); err == nil {
		t.Fatal("SeedFile(float64) succeeded")
	}
}

// recorder is a testing.TB that records failures instead of stopping.
type recorder struct {
	testing.TB
	errors int
}

func (r *recorder) Errorf(string, ...any) { r.errors++ }
func (r *recorder) Helper()               {}

func TestCheckCorpus(t *testing.T) {
	t.Chdir(t.TempDir())
	seeds := [][]byte{[]byte("one"), {0, 1, 2}}

	r := &recorder{TB: t}
	CheckCorpus(r, "FuzzX", seeds)
	if r.errors != 2 {
		t.Fatalf("%d errors for an empty corpus, want 2", r.errors)
	}

	*updateCorpus = true
	CheckCorpus(t, "FuzzX", seeds)
	*updateCorpus = false
	files, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzX"))
	if err != nil || len(files) != 2 {
		t.Fatalf("corpus after update: %v, %v", files, err)
	}

	r = &recorder{TB: t}
	CheckCorpus(r, "FuzzX", seeds)
	if r.errors != 0 {
		t.Fatalf("%d errors for a complete corpus", r.errors)
	}

	// A seed file whose content changed is reported.
	if err := os.WriteFile(filepath.Join("testdata", "fuzz", "FuzzX", files[0].Name()), []byte("go test fuzz v1\n[]byte(\"x\")\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = &recorder{TB: t}
	CheckCorpus(r, "FuzzX", seeds)
	if r.errors != 1 {
		t.Fatalf("%d errors for one changed seed, want 1", r.errors)
	}
}

func TestMustHex(t *testing.T) {
	if got := MustHex(t, "00ff10"); string(got) != "\x00\xff\x10" {
		t.Fatalf("MustHex = %x", got)
	}
}
