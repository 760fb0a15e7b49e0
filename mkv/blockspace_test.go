package mkv

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
	"unsafe"
)

// TestBlockSpace reads the same streams with and without caller space and
// checks that the events agree and that blocks land in the caller's memory.
func TestBlockSpace(t *testing.T) {
	for name, data := range map[string][]byte{
		"known sizes": knownSizeFile(),
		"kvs layout":  benchStream(t, 3, 10, 5000),
	} {
		t.Run(name, func(t *testing.T) {
			want, err := readEvents(data)
			if err != nil {
				t.Fatal(err)
			}
			arena := make([]byte, 0, len(data))
			calls, declined := 0, 0
			var given []byte
			space := func(n int) []byte {
				calls++
				given = nil
				if calls%3 == 0 { // every third block: the Reader's own buffer
					declined++
					return nil
				}
				arena = arena[:len(arena)+n]
				given = arena[len(arena)-n:]
				return given
			}
			r := NewReader(bytes.NewReader(data), WithBlockSpace(space))
			var got []Event
			inArena := 0
			for {
				ev, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if ev.Type == EventBlock && given != nil {
					if &ev.Raw[0] != &given[0] || len(ev.Raw) != len(given) {
						t.Fatal("a block is not in the space given for it")
					}
					inArena++
					lo := uintptr(unsafe.Pointer(&given[0]))
					for _, f := range ev.Block.Frames {
						if p := uintptr(unsafe.Pointer(unsafe.SliceData(f))); len(f) > 0 && (p < lo || p+uintptr(len(f)) > lo+uintptr(len(given))) {
							t.Fatal("a frame of a block read into caller space points elsewhere")
						}
					}
				}
				got = append(got, copyEvent(ev))
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatal("events differ when blocks are read into caller space")
			}
			if calls == 0 || inArena != calls-declined {
				t.Fatalf("%d calls for space, %d declined, %d blocks in the caller's memory", calls, declined, inArena)
			}
		})
	}
}

func TestBlockSpaceErrors(t *testing.T) {
	data := benchStream(t, 1, 4, 1000)
	t.Run("wrong length", func(t *testing.T) {
		_, err := readEvents(data, WithBlockSpace(func(n int) []byte { return make([]byte, n-1) }))
		if err == nil {
			t.Fatal("a block space of the wrong length was accepted")
		}
	})
	t.Run("truncated", func(t *testing.T) {
		_, err := readEvents(data[:len(data)-10], WithBlockSpace(func(n int) []byte { return make([]byte, n) }))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("a stream cut inside a block: %v, want io.ErrUnexpectedEOF", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		asked := false
		_, err := readEvents(data, WithMaxElementSize(100), WithBlockSpace(func(n int) []byte { asked = true; return make([]byte, n) }))
		if !errors.Is(err, ErrElementTooLarge) || asked {
			t.Fatalf("a block over the limit: %v (space asked: %v), want ErrElementTooLarge without asking", err, asked)
		}
	})
}

// TestShortReads reads streams with large blocks (read past the buffer,
// straight from the source) through sources that return little at a time.
func TestShortReads(t *testing.T) {
	data := benchStream(t, 3, 8, 3*directReadMin)
	want, err := readEvents(data)
	if err != nil {
		t.Fatal(err)
	}
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"half":     iotest.HalfReader,
		"one byte": iotest.OneByteReader,
		"data+err": iotest.DataErrReader,
	} {
		r := NewReader(wrap(bytes.NewReader(data)))
		got, err := eventsOf(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: events differ from those read at once", name)
		}
		if r.Offset() != int64(len(data)) {
			t.Fatalf("%s: offset %d after %d bytes", name, r.Offset(), len(data))
		}
	}
	// Cut inside a large block: an unexpected end, at the right offset.
	cut := data[:len(data)-directReadMin]
	err = drain(t, cut)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a stream cut inside a large block: %v", err)
	}
}

// TestBlockSpaceSkip: blocks the caller declines with an empty slice are
// discarded without an event; the other events are unchanged.
func TestBlockSpaceSkip(t *testing.T) {
	data := benchStream(t, 3, 10, 5000)
	want, err := readEvents(data)
	if err != nil {
		t.Fatal(err)
	}
	var wantKept []EventType
	blocks := 0
	for _, ev := range want {
		if ev.Type == EventBlock {
			blocks++
			if blocks%2 == 0 {
				continue
			}
		}
		wantKept = append(wantKept, ev.Type)
	}
	calls := 0
	space := func(n int) []byte {
		calls++
		if calls%2 == 0 {
			return []byte{}
		}
		return make([]byte, n)
	}
	r := NewReader(bytes.NewReader(data), WithBlockSpace(space))
	var got []EventType
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Type)
	}
	if !reflect.DeepEqual(got, wantKept) {
		t.Fatalf("events with every second block skipped:\n got %v\nwant %v", got, wantKept)
	}
	if r.Offset() != int64(len(data)) {
		t.Fatalf("offset %d after the stream, want %d", r.Offset(), len(data))
	}
}

func TestMaxMetadataSize(t *testing.T) {
	data := knownSizeFile()
	r := NewReader(bytes.NewReader(data), WithMaxMetadataSize(8))
	for {
		_, err := r.Next()
		if errors.Is(err, ErrElementTooLarge) {
			return
		}
		if err != nil {
			t.Fatalf("want ErrElementTooLarge, got %v", err)
		}
	}
}
