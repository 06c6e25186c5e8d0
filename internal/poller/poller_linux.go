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
	closed  bool
	nextID  uint64
	waiting map[uint64]*Waiter
	loopOn  bool
	done    chan struct{} // closed when the loop has ended
}

// Waiter is a parked connection.
type Waiter struct {
	p  *Poller
	id uint64
	rc syscall.RawConn
	fn func()
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

// epollCtl applies op to the connection behind rc in the set epfd.
func epollCtl(epfd, op int, rc syscall.RawConn, ev *syscall.EpollEvent) error {
	var cerr error
	err := rc.Control(func(fd uintptr) {
		cerr = syscall.EpollCtl(epfd, op, int(fd), ev)
	})
	if err != nil {
		return err
	}
	return cerr
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

// Park parks c until it is readable (or its peer hangs up, or it fails),
// then runs fn in a new goroutine, once. The caller must not read from c
// while it is parked, nor close it without Stop.
func (p *Poller) Park(c Conn, fn func()) (*Waiter, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	// The registration happens under mu, so that Close cannot release the
	// epoll descriptor under it.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	w := &Waiter{p: p, id: p.nextID, rc: rc, fn: fn}
	p.nextID++
	// Level-triggered and one-shot: bytes that arrived before the
	// registration are reported at once, and each registration is reported
	// at most once.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
	setID(&ev, w.id)
	if err := epollCtl(p.epfd, syscall.EPOLL_CTL_ADD, rc, &ev); err != nil {
		return nil, err
	}
	p.waiting[w.id] = w
	if !p.loopOn {
		p.loopOn = true
		go p.loop()
	}
	return w, nil
}

// Stop unparks w without running its function and reports whether it did:
// false means that the function has been started (or the Poller closed)
// and owns the connection.
func (w *Waiter) Stop() bool {
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.waiting[w.id]
	if ok {
		delete(p.waiting, w.id)
		w.unregisterLocked()
	}
	return ok
}

// unregisterLocked removes the connection from the epoll set (a no-op when
// it has been closed meanwhile: closing removes it). Called with p.mu held.
func (w *Waiter) unregisterLocked() {
	epollCtl(w.p.epfd, syscall.EPOLL_CTL_DEL, w.rc, nil)
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
			p.mu.Lock()
			w := p.waiting[id]
			if w != nil {
				delete(p.waiting, id)
				w.unregisterLocked()
			}
			p.mu.Unlock()
			if w != nil {
				go w.fn()
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
