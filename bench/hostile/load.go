package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// oneRequest sends GET /plaintext on a new connection (Connection: close)
// and reports whether a 200 came back within limit.
func oneRequest(addr string, limit time.Duration) (bool, error) {
	deadline := time.Now().Add(limit)
	c, err := net.DialTimeout("tcp", addr, limit)
	if err != nil {
		return false, err
	}
	defer c.Close()
	c.SetDeadline(deadline)
	if _, err := io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: hostile\r\nConnection: close\r\n\r\n"); err != nil {
		return false, err
	}
	resp, err := io.ReadAll(c)
	if err != nil {
		return false, err
	}
	return bytes.HasPrefix(resp, []byte("HTTP/1.1 200 ")), nil
}

// normalLoad runs workers that send one request per new connection for
// dur and returns the requests answered per second and the failures.
func normalLoad(addr string, workers int, dur time.Duration) (perSec float64, failed int64) {
	var okN, failN atomic.Int64
	end := time.Now().Add(dur)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Now().Before(end) {
				if ok, _ := oneRequest(addr, 5*time.Second); ok {
					okN.Add(1)
				} else {
					failN.Add(1)
				}
			}
		})
	}
	start := time.Now()
	wg.Wait()
	return float64(okN.Load()) / time.Since(start).Seconds(), failN.Load()
}

// swarm is a set of slowloris connections, kept at n: each sends a request
// line, then one header line every interval (with jitter), never the end of
// its head; one that fails is dialled again after redial.
type swarm struct {
	open    atomic.Int64 // connections open now
	redials atomic.Int64 // connections dialled again
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

func startSwarm(addr string, n int, interval, redial time.Duration) *swarm {
	ctx, cancel := context.WithCancel(context.Background())
	s := &swarm{stop: cancel}
	dials := make(chan struct{}, 256) // dials under way at once
	for i := range n {
		s.wg.Go(func() { s.loris(ctx, addr, i, interval, redial, dials) })
	}
	return s
}

func (s *swarm) loris(ctx context.Context, addr string, id int, interval, redial time.Duration, dials chan struct{}) {
	d := net.Dialer{Timeout: 5 * time.Second}
	for first := true; ctx.Err() == nil; first = false {
		if !first {
			s.redials.Add(1)
			if !sleepCtx(ctx, redial) {
				return
			}
		}
		select {
		case dials <- struct{}{}:
		case <-ctx.Done():
			return
		}
		c, err := d.DialContext(ctx, "tcp", addr)
		<-dials
		if err != nil {
			continue
		}
		s.open.Add(1)
		stop := context.AfterFunc(ctx, func() { c.Close() })
		_, err = fmt.Fprintf(c, "GET /?loris=%d HTTP/1.1\r\nHost: hostile\r\n", id)
		for err == nil {
			if !sleepCtx(ctx, interval/2+rand.N(interval)) {
				break
			}
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, err = fmt.Fprintf(c, "X-Loris-%d: a\r\n", rand.N(1000))
		}
		stop()
		c.Close()
		s.open.Add(-1)
	}
}

// waitOpen waits until at least want connections are open, or for limit;
// it returns how many are.
func (s *swarm) waitOpen(want int, limit time.Duration) int {
	for end := time.Now().Add(limit); time.Now().Before(end) && int(s.open.Load()) < want; {
		time.Sleep(100 * time.Millisecond)
	}
	return int(s.open.Load())
}

func (s *swarm) close() {
	s.stop()
	s.wg.Wait()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// slowReader connects with a 4 KiB receive buffer, asks for n chunks of
// size bytes and never reads; the caller closes it.
func slowReader(addr string, n, size int) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(c, "GET /stream?n=%d&size=%d HTTP/1.1\r\nHost: hostile\r\n\r\n", n, size); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// resetChurn runs workers that reset their connections (SO_LINGER 0) for
// dur, in turn: after a whole request whose response is still streaming,
// in the middle of a head, and after reading a response. It returns how
// many connections were reset.
func resetChurn(addr string, workers int, dur time.Duration) int64 {
	var resets atomic.Int64
	end := time.Now().Add(dur)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; time.Now().Before(end); i++ {
				if resetOnce(addr, i%3) {
					resets.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return resets.Load()
}

func resetOnce(addr string, mode int) bool {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false
	}
	tc := c.(*net.TCPConn)
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	switch mode {
	case 0: // the response is on its way
		io.WriteString(c, "GET /stream?n=100&size=4096 HTTP/1.1\r\nHost: hostile\r\n\r\n")
		var b [1]byte
		c.Read(b[:])
	case 1: // half a head
		io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHo")
	default: // after a response, with the next request begun
		io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: hostile\r\n\r\n")
		var b [512]byte
		c.Read(b[:])
		io.WriteString(c, "GET /plain")
	}
	tc.SetLinger(0)
	return tc.Close() == nil
}
