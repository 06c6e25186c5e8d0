//go:build !linux

package poller

// Poller is not implemented on this system: New fails.
type Poller struct{}

// Waiter is a parked connection.
type Waiter struct{}

// New returns ErrUnsupported.
func New() (*Poller, error) { return nil, ErrUnsupported }

// Park is never called: there is no Poller.
func (p *Poller) Park(Conn, func()) (*Waiter, error) { return nil, ErrUnsupported }

// Stop reports false.
func (w *Waiter) Stop() bool { return false }

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
