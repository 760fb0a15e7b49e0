package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpora under testdata/fuzz from the test tables")

// UpdateCorpus reports whether the test binary runs with -update-corpus,
// which asks corpus tests to rewrite their seed files.
func UpdateCorpus() bool { return *updateCorpus }

// SeedFile formats the arguments of one fuzz input as a seed file of the
// go test fuzzing engine ("go test fuzz v1"). It supports the argument types
// this module's fuzz targets take: []byte, string, bool, int and uint64.
func SeedFile(args ...any) ([]byte, error) {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			b.WriteString("[]byte(" + strconv.Quote(string(v)) + ")\n")
		case string:
			b.WriteString("string(" + strconv.Quote(v) + ")\n")
		case bool:
			fmt.Fprintf(&b, "bool(%v)\n", v)
		case int:
			fmt.Fprintf(&b, "int(%d)\n", v)
		case uint64:
			fmt.Fprintf(&b, "uint64(%d)\n", v)
		default:
			return nil, fmt.Errorf("testenv: fuzz argument of type %T not supported", a)
		}
	}
	return []byte(b.String()), nil
}

// WriteSeed writes one seed of the fuzz target fuzzName as
// testdata/fuzz/<fuzzName>/<name> of the package under test.
func WriteSeed(t testing.TB, fuzzName, name string, args ...any) {
	t.Helper()
	content, err := SeedFile(args...)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "fuzz", fuzzName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
		t.Fatal(err)
	}
}

// CheckCorpus keeps testdata/fuzz/<fuzzName> in step with seeds, each one
// []byte input stored under a name derived from its content: with
// -update-corpus it writes them, otherwise it fails the test for every seed
// that is missing or differs.
func CheckCorpus(t testing.TB, fuzzName string, seeds [][]byte) {
	t.Helper()
	for _, s := range seeds {
		content, err := SeedFile(s)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		name := hex.EncodeToString(sum[:8])
		if *updateCorpus {
			WriteSeed(t, fuzzName, name, s)
			continue
		}
		file := filepath.Join("testdata", "fuzz", fuzzName, name)
		if got, err := os.ReadFile(file); err != nil || string(got) != string(content) {
			t.Errorf("seed %x of %s missing from %s; rerun the test with -update-corpus", s, fuzzName, filepath.Dir(file))
		}
	}
}

// MustHex decodes a hexadecimal test vector, failing the test on bad input.
func MustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("test vector %q: %v", s, err)
	}
	return b
}
