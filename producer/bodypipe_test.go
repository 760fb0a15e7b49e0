package producer

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// writeAll writes chunks to the pipe from a goroutine, then closes the
// writing side with closeErr, and returns a channel with Write's error.
func writeAll(p *bodyPipe, closeErr error, chunks ...[]byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		for _, c := range chunks {
			if _, err := p.Write(c); err != nil {
				done <- err
				return
			}
		}
		_ = p.CloseWrite(closeErr)
		done <- nil
	}()
	return done
}

func TestBodyPipeWriteTo(t *testing.T) {
	p := newBodyPipe()
	a, b := bytes.Repeat([]byte("a"), 100000), []byte("bc")
	done := writeAll(p, nil, a, b)
	var out writeCounter
	n, err := p.WriteTo(&out)
	if err != nil || n != int64(len(a)+len(b)) {
		t.Fatalf("WriteTo: %d, %v", n, err)
	}
	// Each Write reached the destination whole, as one write.
	if len(out.sizes) != 2 || out.sizes[0] != len(a) || out.sizes[1] != len(b) {
		t.Fatalf("destination writes %v", out.sizes)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestBodyPipeRead(t *testing.T) {
	p := newBodyPipe()
	want := bytes.Repeat([]byte("0123456789"), 1000)
	done := writeAll(p, nil, want[:3333], want[3333:])
	got, err := io.ReadAll(iotestHalf{p})
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// iotestHalf reads at most half of what is asked, in small pieces.
type iotestHalf struct{ r io.Reader }

func (h iotestHalf) Read(b []byte) (int, error) { return h.r.Read(b[:(len(b)+1)/2]) }

func TestBodyPipeErrors(t *testing.T) {
	boom := errors.New("boom")
	t.Run("writer ends with an error", func(t *testing.T) {
		p := newBodyPipe()
		done := writeAll(p, boom, []byte("x"))
		if _, err := p.WriteTo(io.Discard); !errors.Is(err, boom) {
			t.Fatalf("WriteTo: %v, want the writer's error", err)
		}
		<-done
	})
	t.Run("destination fails", func(t *testing.T) {
		p := newBodyPipe()
		done := writeAll(p, nil, []byte("x"), []byte("y"))
		if _, err := p.WriteTo(failWriter{boom}); !errors.Is(err, boom) {
			t.Fatalf("WriteTo: %v", err)
		}
		if err := <-done; !errors.Is(err, boom) {
			t.Fatalf("Write after the destination failed: %v, want its error", err)
		}
	})
	t.Run("reader closes", func(t *testing.T) {
		p := newBodyPipe()
		done := writeAll(p, nil, []byte("x"))
		_ = p.CloseWithError(boom)
		if err := <-done; !errors.Is(err, boom) {
			t.Fatalf("Write after the reader closed: %v", err)
		}
		if _, err := p.Write([]byte("z")); !errors.Is(err, boom) {
			t.Fatalf("second Write: %v", err)
		}
	})
	t.Run("reader closes without error", func(t *testing.T) {
		p := newBodyPipe()
		_ = p.Close()
		if _, err := p.Write([]byte("z")); !errors.Is(err, io.ErrClosedPipe) {
			t.Fatalf("Write: %v", err)
		}
	})
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// stallWriter blocks every Write until release is closed, as a connection
// to a frozen server does once its socket buffer is full.
type stallWriter struct {
	entered chan struct{}
	release chan struct{}
}

func (w *stallWriter) Write(b []byte) (int, error) {
	close(w.entered)
	<-w.release
	return len(b), nil
}

// A session closed while the transport is stuck writing a chunk must not
// leave the transport's writer blocked for ever once the write completes:
// the Write that handed the chunk over has returned and takes no answer.
func TestBodyPipeClosedDuringAStalledWrite(t *testing.T) {
	p := newBodyPipe()
	wrote := make(chan error, 1)
	go func() { _, err := p.Write([]byte("cluster")); wrote <- err }()
	w := &stallWriter{entered: make(chan struct{}), release: make(chan struct{})}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		_, _ = p.WriteTo(w)
	}()
	<-w.entered
	_ = p.CloseWrite(errors.New("session stale"))
	if err := <-wrote; err == nil {
		t.Fatal("Write returned no error after the pipe was closed")
	}
	close(w.release)
	select {
	case <-readerDone:
	case <-time.After(2 * time.Second):
		t.Fatal("WriteTo is still blocked after the pipe was closed and its write completed")
	}
}
