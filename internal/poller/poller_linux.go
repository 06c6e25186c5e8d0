//go:build linux

package poller

import (
	"sync"
	"syscall"
)

// Poller is a set of parked connections and the one goroutine that waits
// for any of them to become readable.
type Poller struct {
	epfd int
	wake [2]int // a pipe whose read end is registered: Close writes to it

	mu      sync.Mutex
	ctl     ctl // for registrations, under mu
	closed  bool
	nextID  uint64
	waiting map[uint64]*Waiter
	loopOn  bool
	done    chan struct{} // closed when the loop has ended
}

// Waiter is a parked connection. Its zero value is ready for Park, and it
// may be parked again once it has been woken or stopped. It is meant to be
// a field of what owns the connection, so that parking allocates nothing
// that stays while the connection is parked.
type Waiter struct {
	id uint64 // its key in the Poller's waiting while parked
	x  Parked
}

// wakeID is the epoll data of the wake pipe; connections get ids from 1.
const wakeID = 0

// New returns a Poller. Its goroutine starts with the first Park and ends
// with Close.
func New() (*Poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &Poller{epfd: epfd, nextID: 1, waiting: make(map[uint64]*Waiter), done: make(chan struct{})}
	p.ctl.init(epfd)
	if err := syscall.Pipe2(p.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	setID(&ev, wakeID)
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		p.closeFDs()
		return nil, err
	}
	return p, nil
}

// ctl makes the epoll_ctl calls of a set on its connections' descriptors,
// through their RawConns, without allocating per call: a set has one and
// uses it under its lock.
type ctl struct {
	epfd, op int
	ev       syscall.EpollEvent
	err      error
	fn       func(fd uintptr) // call, made once
}

func (c *ctl) init(epfd int) {
	c.epfd = epfd
	c.fn = c.call
}

func (c *ctl) call(fd uintptr) { c.err = syscall.EpollCtl(c.epfd, c.op, int(fd), &c.ev) }

// do applies op, with ev, to the connection behind rc.
func (c *ctl) do(op int, rc syscall.RawConn, ev syscall.EpollEvent) error {
	c.op, c.ev, c.err = op, ev, nil
	if err := rc.Control(c.fn); err != nil {
		return err
	}
	return c.err
}

func setID(ev *syscall.EpollEvent, id uint64) {
	ev.Fd, ev.Pad = int32(uint32(id)), int32(uint32(id>>32))
}

func idOf(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

func (p *Poller) closeFDs() {
	syscall.Close(p.wake[0])
	syscall.Close(p.wake[1])
	syscall.Close(p.epfd)
}

// Park parks x in w until x is readable (or its peer hangs up, or it
// fails), then calls x.Wake in a new goroutine, once. The caller must not
// read from x while it is parked, nor close it without Stop, nor park w
// again before then.
func (p *Poller) Park(w *Waiter, x Parked) error {
	rc, err := x.SyscallConn()
	if err != nil {
		return err
	}
	// The registration happens under mu, so that Close cannot release the
	// epoll descriptor under it.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if w.id != 0 && p.waiting[w.id] == w {
		return errParked
	}
	*w = Waiter{id: p.nextID, x: x}
	p.nextID++
	// Level-triggered and one-shot: bytes that arrived before the
	// registration are reported at once, and each registration is reported
	// at most once.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
	setID(&ev, w.id)
	if err := p.ctl.do(syscall.EPOLL_CTL_ADD, rc, ev); err != nil {
		return err
	}
	p.waiting[w.id] = w
	if !p.loopOn {
		p.loopOn = true
		go p.loop()
	}
	return nil
}

// Stop unparks w without running its Wake and reports whether it did:
// false means that Wake has been started (or the Poller closed, or w was
// not parked here) and owns the connection.
func (p *Poller) Stop(w *Waiter) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ok := w.id != 0 && p.waiting[w.id] == w
	if ok {
		delete(p.waiting, w.id)
		p.unregisterLocked(w)
	}
	return ok
}

// unregisterLocked removes the connection from the epoll set (a no-op when
// it has been closed meanwhile: closing removes it). Called with p.mu held.
func (p *Poller) unregisterLocked(w *Waiter) {
	if rc, err := w.x.SyscallConn(); err == nil {
		p.ctl.do(syscall.EPOLL_CTL_DEL, rc, syscall.EpollEvent{})
	}
}

// Len returns how many connections are parked.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiting)
}

// Close stops the Poller. The connections still parked stay parked for
// good: their functions never run, and their owners close them (after
// Stop, which then reports false). Close does not wait for the goroutine;
// Done does.
func (p *Poller) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	clear(p.waiting)
	loopOn := p.loopOn
	p.mu.Unlock()
	if !loopOn {
		p.closeFDs()
		close(p.done)
		return
	}
	syscall.Write(p.wake[1], []byte{1})
}

// Done is closed once a closed Poller's goroutine has ended.
func (p *Poller) Done() <-chan struct{} { return p.done }

func (p *Poller) loop() {
	defer close(p.done)
	defer func() {
		p.mu.Lock() // no registration is under way
		p.closeFDs()
		p.mu.Unlock()
	}()
	events := make([]syscall.EpollEvent, 64)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			// Nothing sensible is left to do: the parked connections
			// stay parked until their owners stop them.
			p.mu.Lock()
			p.closed = true
			clear(p.waiting)
			p.mu.Unlock()
			return
		}
		for i := range events[:n] {
			id := idOf(&events[i])
			if id == wakeID {
				p.mu.Lock()
				closed := p.closed
				p.mu.Unlock()
				if closed {
					return
				}
				continue
			}
			var x Parked
			p.mu.Lock()
			if w := p.waiting[id]; w != nil {
				delete(p.waiting, id)
				p.unregisterLocked(w)
				x = w.x
			}
			p.mu.Unlock()
			if x != nil {
				go x.Wake()
			}
		}
	}
}

// Readable reports whether c, a socket, has bytes to read or has reached
// its end, without reading anything and without waiting; false when it
// cannot tell. It bypasses the connection's read deadline.
func Readable(c Conn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var b [1]byte
	var perr error
	err = rc.Control(func(fd uintptr) {
		_, _, perr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	})
	return err == nil && perr == nil
}
