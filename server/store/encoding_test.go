package store

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

func TestFragmentRecordRoundTrip(t *testing.T) {
	for _, f := range []Fragment{
		{},
		{Number: formatNumber(1), ProducerTimestamp: time.Unix(1700000000, 123456789).UTC(), ServerTimestamp: time.Unix(1700000001, 1).UTC(),
			Duration: 2 * time.Second, Size: 1 << 20, HeaderID: "abc", Timecode: -5},
		{Number: formatNumber(1<<63 + 5), ProducerTimestamp: time.Unix(-5, 0).UTC(), Timecode: 1 << 60},
	} {
		f.Number = formatNumber(9)
		got, crc, err := decodeFragment([]byte(f.Number), encodeFragment(f, 0xdeadbeef))
		if err != nil || crc != 0xdeadbeef || !reflect.DeepEqual(got, f) {
			t.Errorf("round trip of %+v = %+v, %x, %v", f, got, crc, err)
		}
	}
	if _, _, err := decodeFragment([]byte("1"), []byte{2, 3}); err == nil {
		t.Error("garbage decoded")
	}
}

func TestTimeKeyOrder(t *testing.T) {
	times := []time.Time{
		{},
		time.Unix(-10, 5),
		time.Unix(0, 0),
		time.Unix(0, 1),
		time.Unix(1700000000, 999999999),
		time.Unix(1700000001, 0),
	}
	for i := 1; i < len(times); i++ {
		a, b := timeKey(times[i-1], formatNumber(9)), timeKey(times[i], formatNumber(1))
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("key of %v not below key of %v", times[i-1], times[i])
		}
		if got := getTime(a); !got.Equal(times[i-1]) {
			t.Errorf("getTime = %v, want %v", got, times[i-1])
		}
	}
}

func TestNumbers(t *testing.T) {
	prev := ""
	for _, c := range []uint64{0, 1, 9, 10, 12345, 1 << 40, 1<<64 - 1} {
		n := formatNumber(c)
		if len(n) != 47 || !validNumber(n) || n <= prev {
			t.Fatalf("formatNumber(%d) = %q", c, n)
		}
		if got, ok := parseCounter(n); !ok || got != c {
			t.Fatalf("parseCounter(%q) = %d, %v", n, got, ok)
		}
		prev = n
	}
	for _, bad := range []string{"", "123", formatNumber(1)[:46] + "x", formatNumber(1) + "0"} {
		if validNumber(bad) {
			t.Errorf("validNumber(%q)", bad)
		}
	}
}
