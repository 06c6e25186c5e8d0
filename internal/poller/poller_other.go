//go:build !linux

package poller

import "net"

// Poller is not implemented on this system: New fails.
type Poller struct{}

// Waiter is a parked connection.
type Waiter struct{}

// New returns ErrUnsupported.
func New() (*Poller, error) { return nil, ErrUnsupported }

// Park is never called: there is no Poller.
func (p *Poller) Park(*Waiter, Parked) error { return ErrUnsupported }

// Stop reports false.
func (p *Poller) Stop(*Waiter) bool { return false }

// Len returns 0.
func (p *Poller) Len() int { return 0 }

// Close does nothing.
func (p *Poller) Close() {}

// Done returns a closed channel.
func (p *Poller) Done() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// Ready is not implemented on this system: NewReady fails.
type Ready struct{}

// Sub is a connection in a Ready set.
type Sub struct{}

// NewReady returns ErrUnsupported.
func NewReady() (*Ready, error) { return nil, ErrUnsupported }

// Add is never called: there is no Ready.
func (r *Ready) Add(Conn) (*Sub, error) { return nil, ErrUnsupported }

// Close does nothing.
func (r *Ready) Close() {}

// Done returns a closed channel.
func (r *Ready) Done() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// Len returns 0.
func (r *Ready) Len() int { return 0 }

// Remove does nothing.
func (s *Sub) Remove() {}

// Take reports false.
func (s *Sub) Take() bool { return false }

// Mark does nothing.
func (s *Sub) Mark() {}

// Wait returns nil.
func (s *Sub) Wait() <-chan struct{} { return nil }

// Poke does nothing.
func (s *Sub) Poke() {}

// TakePoke reports false.
func (s *Sub) TakePoke() bool { return false }

// Read returns ErrUnsupported.
func (s *Sub) Read([]byte) (int, error) { return 0, ErrUnsupported }

// Readable returns false: it cannot tell.
func Readable(Conn) bool { return false }

// Socket is not implemented on this system: Init fails.
type Socket struct {
	Reader Reader
	Writer Writer
}

// Init returns ErrUnsupported.
func (s *Socket) Init(*net.TCPConn) error { return ErrUnsupported }

// Reader is not implemented on this system.
type Reader struct{}

// Read is never called: Socket.Init fails.
func (r *Reader) Read([]byte) (int, error) { return 0, ErrUnsupported }

// Writer is not implemented on this system.
type Writer struct{}

// Write is never called: Socket.Init fails.
func (w *Writer) Write([]byte) (int, error) { return 0, ErrUnsupported }
