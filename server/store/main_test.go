package store

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openTest opens a store in a fresh directory, closed at the end of the test.
func openTest(t testing.TB, opts ...Option) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s := reopen(t, dir, opts...)
	return s, dir
}

func reopen(t testing.TB, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(dir, append([]Option{WithNoSync()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func testARN(kind, name string) string {
	return fmt.Sprintf("arn:aws:kinesisvideo:us-west-2:123456789012:%s/%s/%d", kind, name, time.Now().UnixNano())
}

// mustStream creates a stream with the given retention and returns its ARN.
func mustStream(t testing.TB, s *Store, name string, retentionHours int) string {
	t.Helper()
	arn := testARN("stream", name)
	if err := s.CreateStream(Stream{Name: name, ARN: arn, Status: "ACTIVE", Version: "1", CreationTime: time.Now(), DataRetentionInHours: retentionHours}); err != nil {
		t.Fatal(err)
	}
	return arn
}

func checkClean(t testing.TB, s *Store) {
	t.Helper()
	problems, err := s.Check()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error("check:", p)
	}
}
