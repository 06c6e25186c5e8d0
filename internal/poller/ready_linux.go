//go:build linux

package poller

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// Ready tells connections when they have become readable, so that they
// read only then.
//
// A goroutine that reads a socket through Go's poller makes a read system
// call first and waits only when it comes back empty. A server that has
// just answered a keep-alive request reads at once for the next one, which
// has not had time to arrive: every request costs one empty read. With
// Ready, the connection is in an edge-triggered epoll set of its own; one
// goroutine waits on that set through the runtime's poller (an epoll set
// is itself pollable) and marks the connections that the kernel reports
// readable, and a connection reads only once it has been marked.
//
// The set's goroutine is woken by the runtime's poller like any other
// goroutine waiting for input, that is when the scheduler has nothing else
// to run or polls anyway, so a marked connection waits no longer than it
// would have in a read.
type Ready struct {
	epfd int
	file *os.File // epfd, registered with the runtime's poller
	rc   syscall.RawConn

	mu     sync.RWMutex // guards the fields below; read by the loop
	ctl    ctl          // for Add and Remove, under mu
	closed bool
	loopOn bool
	slots  []*Sub
	gens   []uint32 // each slot's last generation
	free   []uint32
	done   chan struct{} // closed when the loop has ended
}

// Sub is a connection in a Ready set.
type Sub struct {
	r     *Ready
	rc    syscall.RawConn
	slot  uint32
	gen   uint32
	mark  atomic.Bool   // readable since the last Take
	poked atomic.Bool   // poked since the last TakePoke
	wake  chan struct{} // one token: a mark or a Poke since the last wait

	// The read in progress, for readFn (allocated once per Sub).
	p      []byte
	n      int
	err    error
	readFn func(uintptr) bool
}

// epollET is syscall.EPOLLET as the uint32 of EpollEvent.Events (the
// constant is negative).
const epollET = 1 << 31

// NewReady returns an empty set. Its goroutine starts with the first Add
// and ends with Close.
func NewReady() (*Ready, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	// A non-blocking descriptor makes a File that the runtime polls.
	f := os.NewFile(uintptr(epfd), "epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	r := &Ready{epfd: epfd, file: f, rc: rc, done: make(chan struct{})}
	r.ctl.init(epfd)
	return r, nil
}

// Add puts c in the set. Bytes that are already waiting mark it at once.
// The caller must Remove it before closing c (or before handing it to
// anything else that polls it).
func (r *Ready) Add(c Conn) (*Sub, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	s := &Sub{r: r, rc: rc, wake: make(chan struct{}, 1)}
	s.readFn = s.read
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if n := len(r.free); n > 0 {
		s.slot = r.free[n-1]
		r.free = r.free[:n-1]
	} else {
		s.slot = uint32(len(r.slots))
		r.slots = append(r.slots, nil)
		r.gens = append(r.gens, 0)
	}
	// The generation tells an event for an earlier holder of the slot,
	// still queued when it left, from one for this one.
	r.gens[s.slot]++
	s.gen = r.gens[s.slot]
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET}
	setID(&ev, uint64(s.slot)|uint64(s.gen)<<32)
	if err := r.ctl.do(syscall.EPOLL_CTL_ADD, rc, ev); err != nil {
		r.free = append(r.free, s.slot)
		return nil, err
	}
	r.slots[s.slot] = s
	if !r.loopOn {
		r.loopOn = true
		go r.loop()
	}
	return s, nil
}

// Remove takes s out of its set. Safe to call more than once.
func (s *Sub) Remove() {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if int(s.slot) >= len(r.slots) || r.slots[s.slot] != s {
		return // removed already, or the set is closed (and empty)
	}
	r.ctl.do(syscall.EPOLL_CTL_DEL, s.rc, syscall.EpollEvent{})
	r.slots[s.slot] = nil
	r.free = append(r.free, s.slot)
}

// Take reports whether s has been marked readable since the last Take, and
// clears the mark.
func (s *Sub) Take() bool { return s.mark.Load() && s.mark.Swap(false) }

// Mark marks s readable, as when a read filled its buffer and more may be
// waiting: the kernel reports only new bytes.
func (s *Sub) Mark() { s.mark.Store(true) }

// Wait returns the channel that receives a token after a mark or a Poke.
// A token may be stale (its mark taken already): check Take and TakePoke.
func (s *Sub) Wait() <-chan struct{} { return s.wake }

// Poke wakes a goroutine waiting on Wait (or the next one), for something
// else than bytes to read: TakePoke reports it.
func (s *Sub) Poke() {
	s.poked.Store(true)
	s.notify()
}

// TakePoke reports whether s has been poked since the last TakePoke, and
// clears that.
func (s *Sub) TakePoke() bool { return s.poked.Load() && s.poked.Swap(false) }

func (s *Sub) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Read reads once from the connection, without waiting. It returns
// ErrAgain when there is nothing to read, 0 and no error when the peer has
// closed its side, an *os.SyscallError when the read fails, and the
// connection's own errors: one matching os.ErrDeadlineExceeded once its
// read deadline has passed, net.ErrClosed once it is closed.
func (s *Sub) Read(p []byte) (int, error) {
	s.p, s.n, s.err = p, 0, nil
	err := s.rc.Read(s.readFn)
	s.p = nil
	if err != nil {
		return 0, err
	}
	return s.n, s.err
}

func (s *Sub) read(fd uintptr) bool {
	for {
		n, errno := rawRead(fd, s.p) // non-blocking: see rawRead
		switch errno {
		case 0:
			s.n = n
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			s.err = ErrAgain
		default:
			s.err = os.NewSyscallError("read", errno)
		}
		return true // never wait here: the caller waits on its mark
	}
}

// Close empties the set and ends its goroutine; the connections still in
// it are left alone (their owners Remove them, a no-op now). Done is
// closed once the goroutine has ended.
func (r *Ready) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	loopOn := r.loopOn
	r.slots, r.gens, r.free = nil, nil, nil
	r.mu.Unlock()
	// Closing the File wakes the loop's wait (it fails) and closes epfd
	// once the loop has let go of it.
	r.file.Close()
	if !loopOn {
		close(r.done)
	}
}

// Done is closed once a closed set's goroutine has ended.
func (r *Ready) Done() <-chan struct{} { return r.done }

// Len returns how many connections are in the set.
func (r *Ready) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.slots) - len(r.free)
}

func (r *Ready) loop() {
	defer close(r.done)
	events := make([]syscall.EpollEvent, 128)
	// One read of the File that never returns true: the runtime calls the
	// function again each time the set becomes readable, until Close makes
	// the wait fail.
	r.rc.Read(func(fd uintptr) bool {
		for {
			n, err := syscall.EpollWait(int(fd), events, 0)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return true // the set is gone: nothing more to report
			}
			if n > 0 {
				r.deliver(events[:n])
			}
			if n < len(events) {
				// Drained: the set reports readable again only when a
				// connection reports new bytes.
				return false
			}
		}
	})
}

// deliver marks the connections of events and wakes their readers.
func (r *Ready) deliver(events []syscall.EpollEvent) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for i := range events {
		id := idOf(&events[i])
		slot, gen := uint32(id), uint32(id>>32)
		if int(slot) >= len(r.slots) {
			continue
		}
		if s := r.slots[slot]; s != nil && s.gen == gen {
			s.mark.Store(true)
			s.notify()
		}
	}
}
