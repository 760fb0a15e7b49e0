package producer

import (
	"io"
	"sync"
)

// bodyPipe carries a PutMedia body from the session writer to the HTTP
// transport, like io.Pipe, except that the transport takes the writer's
// bytes through WriteTo and writes them to the connection as they are:
// no copy into a buffer of its own in between. Write returns once the
// reading side has consumed all of p (written it out, or copied it in
// Read), so the writer may then reuse p.
type bodyPipe struct {
	wmu      sync.Mutex  // one Write at a time
	handover chan []byte // Write -> reader
	consumed chan int    // reader -> Write: how much of it was consumed

	once     sync.Once
	done     chan struct{} // closed by the first Close of either side
	mu       sync.Mutex
	readErr  error // what Read returns once done (set by the writing side)
	writeErr error // what Write returns once done (set by the reading side)
}

var _ io.WriterTo = (*bodyPipe)(nil)

func newBodyPipe() *bodyPipe {
	return &bodyPipe{handover: make(chan []byte), consumed: make(chan int), done: make(chan struct{})}
}

// Write hands p to the reader and waits until it has all been consumed.
func (p *bodyPipe) Write(b []byte) (int, error) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	n := 0
	for len(b) > 0 {
		select {
		case p.handover <- b:
		case <-p.done:
			return n, p.errForWriter()
		}
		select {
		case m := <-p.consumed:
			n += m
			b = b[m:]
		case <-p.done:
			return n, p.errForWriter()
		}
	}
	return n, nil
}

// Read copies what the writer hands over into b (for readers that do not
// use WriteTo).
func (p *bodyPipe) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	select {
	case chunk := <-p.handover:
		m := copy(b, chunk)
		select {
		case p.consumed <- m:
		case <-p.done: // the writer has returned: nobody takes the answer
		}
		return m, nil
	case <-p.done:
		return 0, p.errForReader()
	}
}

// WriteTo writes what the writer hands over to w until the writer closes
// the pipe. A failed write to w closes the pipe with that error.
func (p *bodyPipe) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		select {
		case chunk := <-p.handover:
			m, err := w.Write(chunk)
			total += int64(m)
			if err == nil && m < len(chunk) {
				err = io.ErrShortWrite
			}
			if err != nil {
				p.closeWith(&p.writeErr, err)
				return total, err
			}
			select {
			case p.consumed <- m:
			case <-p.done: // the writer has returned: nobody takes the answer
			}
		case <-p.done:
			err := p.errForReader()
			if err == io.EOF {
				err = nil
			}
			return total, err
		}
	}
}

// Close of the reading side (the transport closing the request body):
// further Writes fail with io.ErrClosedPipe.
func (p *bodyPipe) Close() error { return p.CloseWithError(nil) }

// CloseWithError closes the reading side: further Writes fail with err
// (io.ErrClosedPipe if nil).
func (p *bodyPipe) CloseWithError(err error) error {
	if err == nil {
		err = io.ErrClosedPipe
	}
	p.closeWith(&p.writeErr, err)
	return nil
}

// CloseWrite ends the body: the reader gets the rest, then err (io.EOF if
// nil).
func (p *bodyPipe) CloseWrite(err error) error {
	if err == nil {
		err = io.EOF
	}
	p.closeWith(&p.readErr, err)
	return nil
}

func (p *bodyPipe) closeWith(slot *error, err error) {
	p.mu.Lock()
	if *slot == nil {
		*slot = err
	}
	p.mu.Unlock()
	p.once.Do(func() { close(p.done) })
}

func (p *bodyPipe) errForWriter() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.writeErr != nil {
		return p.writeErr
	}
	return io.ErrClosedPipe // the writer closed it
}

func (p *bodyPipe) errForReader() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.readErr != nil {
		return p.readErr
	}
	return io.ErrClosedPipe
}
