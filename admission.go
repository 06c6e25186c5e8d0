package streamhttp

import (
	"container/list"
	"context"
	"crypto/tls"
	"errors"
	"sync"
)

// Admission: the connection slots of the high-level binders
// (BindAndHandle*).
//
// A connection earns one of MaxConnections slots with its first complete
// request head. Until then it is pending: accepted and served (its TLS
// handshake, its head arriving under HeadTimeout), but counted apart, in at
// most MaxPendingConnections places. A new connection that finds them all
// taken evicts the oldest pending one, which is closed, instead of waiting:
// connections that send nothing, or their heads a byte at a time
// (slowloris), or never finish a TLS handshake, can no longer hold the
// slots that clients sending requests need, nor keep such clients in the
// listen backlog. The oldest goes first because a client that is going to
// send a head sends it soon after connecting: the newest pending
// connection is the likeliest to be one.
//
// Only earned slots make the acceptor wait: when all MaxConnections are
// taken, a parked (idle) connection is closed to make room, and otherwise
// the next connection stays in the backlog until one ends. A pending
// connection whose head completes while the slots are all taken waits for
// one (connOpts.earnSlot) and is not evicted meanwhile; such waiters get
// freed slots before the acceptor does.

// errEvicted is the end of a pending connection closed to make room for a
// newer one.
var errEvicted = errors.New("streamhttp: connection evicted: it had not sent a request head when MaxPendingConnections newer connections came")

// admitState is where a connection stands in its admission.
type admitState uint8

const (
	admitNone    admitState = iota // not admitted, or released
	admitPending                   // accepted, no complete head yet
	admitWaiting                   // a head came; waits for a free slot
	admitEarned                    // holds a slot
	admitEvicted                   // closed to make room; holds nothing
)

// admission counts the slots of one handleAll run. A connection's own
// state is kept in it (IncomingConnection.admState, admElem), guarded by
// mu.
type admission struct {
	max, maxPending int

	mu      sync.Mutex
	earned  int       // connections holding a slot
	waiting int       // connections waiting for a slot
	pending list.List // of *IncomingConnection, oldest first
	// freed is closed and replaced when a slot frees while sleepers (in
	// awaitSlot) wait on it: a connection that ends makes no channel when
	// nobody waits.
	freed    chan struct{}
	sleepers int
}

func newAdmission(maxConns, maxPending int) *admission {
	return &admission{max: maxConns, maxPending: maxPending, freed: make(chan struct{})}
}

// admit takes in a connection the acceptor has just accepted, as pending.
// It waits while every slot is earned (after asking for a parked
// connection to be closed) and returns false when ctx ends first. When the
// pending places are all taken, the oldest pending connection is evicted.
func (a *admission) admit(ctx context.Context, c *IncomingConnection) bool {
	a.mu.Lock()
	for a.earned+a.waiting >= a.max {
		if !a.awaitSlot(ctx, c.b) {
			a.mu.Unlock()
			return false
		}
	}
	var victim *IncomingConnection
	if a.pending.Len() >= a.maxPending {
		victim = a.pending.Remove(a.pending.Front()).(*IncomingConnection)
		victim.admState, victim.admElem = admitEvicted, nil
	}
	c.adm = a
	c.admState, c.admElem = admitPending, a.pending.PushBack(c)
	a.mu.Unlock()
	if victim != nil {
		victim.evict()
	}
	return true
}

// earnSlot is connOpts.earnSlot: it gives the connection a slot once its
// first request head is complete, waiting for one while none is free; it
// fails when the run's ctx ends first. It returns at once for a connection
// that has earned its slot (a parked connection waking up), and for one
// that counts no slot.
func (c *IncomingConnection) earnSlot(ctx context.Context) error {
	if a := c.adm; a != nil {
		return a.earn(ctx, c)
	}
	return nil
}

// release gives the connection's slot back, if it holds one: when it begins
// to linger (connOpts.lingering), or when it ends. Later calls do nothing.
func (c *IncomingConnection) release() {
	if a := c.adm; a != nil {
		a.release(c)
	}
}

func (a *admission) earn(ctx context.Context, c *IncomingConnection) error {
	a.mu.Lock()
	if c.admState != admitPending {
		evicted := c.admState == admitEvicted
		a.mu.Unlock()
		if evicted {
			return errEvicted // its close is under way
		}
		return nil // earned already: a parked connection woke up
	}
	a.pending.Remove(c.admElem)
	c.admElem = nil
	if a.earned < a.max {
		c.admState = admitEarned
		a.earned++
		a.mu.Unlock()
		return nil
	}
	c.admState = admitWaiting
	a.waiting++
	for {
		if !a.awaitSlot(ctx, c.b) {
			a.waiting--
			c.admState = admitEvicted // holds nothing; release only forgets it
			a.mu.Unlock()
			return context.Cause(ctx)
		}
		if a.earned < a.max {
			c.admState = admitEarned
			a.earned++
			a.waiting--
			a.mu.Unlock()
			return nil
		}
	}
}

// awaitSlot waits for a slot to free, after asking b to close a parked
// connection to make room. Called with a.mu held, which it releases while
// it waits; it returns with a.mu held, false when ctx ended first.
func (a *admission) awaitSlot(ctx context.Context, b *ServerBinding) bool {
	freed := a.freed
	a.sleepers++
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.sleepers--
	}()
	b.evictParked()
	select {
	case <-freed:
		return true
	case <-ctx.Done():
		return false
	}
}

// release gives up what c holds, once it has ended.
func (a *admission) release(c *IncomingConnection) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch c.admState {
	case admitPending:
		a.pending.Remove(c.admElem)
		c.admElem = nil
	case admitEarned:
		a.earned--
		if a.sleepers > 0 {
			close(a.freed)
			a.freed = make(chan struct{})
		}
	}
	c.admState = admitNone
}

// counts returns the earned, waiting and pending connections: for tests.
func (a *admission) counts() (earned, waiting, pending int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.earned, a.waiting, a.pending.Len()
}

// evict closes a pending connection to make room for a newer one. A
// connection being served ends its run first, so that the read the close
// fails reports the run's end rather than an error; one still in its TLS
// handshake (or not yet served) is closed under it. No linger: the client
// sent no request to read an answer to.
func (c *IncomingConnection) evict() {
	b := c.b
	b.mu.Lock()
	handled, cio, parked := c.handled, c.cio, c.parked
	c.evicted = true
	b.mu.Unlock()
	switch {
	case !handled:
		c.refuse()
		return
	case parked: // not expected before a head, but a parked one closes so
		c.closeParked()
		return
	}
	if cio != nil {
		cio.expire()
	}
	if tc, ok := c.conn.(*tls.Conn); ok {
		tc.NetConn().Close() // tls.Conn.Close could wait for a write
	} else {
		c.conn.Close()
	}
}
