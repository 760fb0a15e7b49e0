package mkv

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// copyEvent returns a deep copy of ev that outlives the next Reader.Next.
func copyEvent(ev *Event) Event {
	c := *ev
	c.Raw = append([]byte(nil), ev.Raw...)
	if ev.Block.Frames != nil {
		c.Block.Frames = make([][]byte, len(ev.Block.Frames))
		for i, f := range ev.Block.Frames {
			c.Block.Frames[i] = append([]byte{}, f...)
		}
	}
	return c
}

// readEvents reads data to the end, returning copies of all events and the
// final error (nil at a clean io.EOF).
func readEvents(data []byte, opts ...ReaderOption) ([]Event, error) {
	return eventsOf(NewReader(bytes.NewReader(data), opts...))
}

// eventsOf reads r to the end like readEvents.
func eventsOf(r *Reader) ([]Event, error) {
	var evs []Event
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, copyEvent(ev))
	}
}

// drain reads until an error with a deadline, failing on a hang.
func drain(t testing.TB, data []byte, opts ...ReaderOption) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		r := NewReader(bytes.NewReader(data), opts...)
		for i := 0; ; i++ {
			if _, err := r.Next(); err != nil {
				done <- err
				return
			}
			if i > 10*len(data)+100 {
				done <- errors.New("too many events")
				return
			}
		}
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("reader hangs")
		return nil
	}
}

func eventTypes(evs []Event) []EventType {
	out := make([]EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}
