package httpcore

import (
	"sync"
	"unsafe"
)

// Reusing requests. A parser with ParserSettings.ReuseRequests builds each
// request in an object of the size classes of message.go taken from
// requestPools when one is there, and copies a body that arrived with the
// head but does not fit that object into an array of bodyPools. The request
// is marked with both (its class and body fields) so that RecycleRequest
// knows where to give them back. Requests of other parsers, HTTP/2 ones,
// copies made by WithContext and those a handler kept (Request.Keep) are
// unmarked, and RecycleRequest leaves them alone.
//
// The pools are sync.Pools: shared by every connection, cached per P, and
// emptied by the collector, so that memory a burst needed is not held by
// idle connections.

// requestPools holds recycled request objects, by class (1 for request384,
// up to 7 for request1792; 0 is unused).
var requestPools [8]sync.Pool

// takeRequest returns a zeroed request object of the given class: a
// recycled one when reuse is on and there is one, marked for recycling when
// reuse is on.
func takeRequest[T request384 | request448 | request512 | request640 | request1024 | request1280 | request1792](class uint8, reuse bool) *T {
	if !reuse {
		return new(T)
	}
	var o *T
	if v := requestPools[class].Get(); v != nil {
		o = v.(*T)
	} else {
		o = new(T)
	}
	// Every object type begins with its Request (message.go).
	(*Request)(unsafe.Pointer(o)).class = class
	return o
}

// putRequest zeroes the object of r, marked with class, and gives it to
// its pool.
func putRequest[T request384 | request448 | request512 | request640 | request1024 | request1280 | request1792](r *Request, class uint8) {
	o := (*T)(unsafe.Pointer(r))
	var zero T
	*o = zero // nothing of this request stays reachable from the pool
	requestPools[class].Put(o)
}

// Body arrays, by the largest body each holds: bodySizes[i-1] for the
// request body mark i. A larger body is allocated (and left to the
// collector) as without reuse.
var (
	bodySizes = [...]int{2 << 10, 4 << 10, 8 << 10, 16 << 10, 32 << 10, 64 << 10}
	bodyPools [len(bodySizes) + 1]sync.Pool
)

// takeBody returns n bytes for r's strict body, from a recycled array when
// there is one of the right size, and marks r with it. The bytes are not
// zeroed: the caller fills all n, and the slice's capacity is n, so nothing
// of an earlier body is visible.
func (r *Request) takeBody(n int) []byte {
	switch {
	case n <= 2<<10:
		return takeBody[[2 << 10]byte](r, 1, n)
	case n <= 4<<10:
		return takeBody[[4 << 10]byte](r, 2, n)
	case n <= 8<<10:
		return takeBody[[8 << 10]byte](r, 3, n)
	case n <= 16<<10:
		return takeBody[[16 << 10]byte](r, 4, n)
	case n <= 32<<10:
		return takeBody[[32 << 10]byte](r, 5, n)
	case n <= 64<<10:
		return takeBody[[64 << 10]byte](r, 6, n)
	}
	return make([]byte, n)
}

func takeBody[A [2 << 10]byte | [4 << 10]byte | [8 << 10]byte | [16 << 10]byte | [32 << 10]byte | [64 << 10]byte](r *Request, mark uint8, n int) []byte {
	var a *A
	if v := bodyPools[mark].Get(); v != nil {
		a = v.(*A)
	} else {
		a = new(A)
	}
	r.body = mark
	return unsafe.Slice((*byte)(unsafe.Pointer(a)), n)
}

// RecycleRequest gives the memory of r (the request, its header fields,
// every string of it and a body that arrived with its head) back for a
// later request of a parser with ParserSettings.ReuseRequests, and reports
// whether it did. It is for servers, once r's response is written and
// nothing refers to r or to anything of it: not the handler, not a
// goroutine it started, not a context derived from r's. A later request
// overwrites that memory, strings included.
//
// It leaves alone, and reports false for, a request that such a parser did
// not build, one that was recycled already, one a handler kept
// ([Request.Keep]), and one whose context anyone waited on (called Done or
// context.AfterFunc on it, as a context derived from it does): whoever did
// may still look at it.
func RecycleRequest(r *Request) bool {
	if r.class == 0 {
		return false
	}
	if s := r.ctx.load(); s != nil && s != canceledState {
		return false
	}
	if r.body != 0 {
		putBody(r.strict.Data, r.body)
	}
	switch r.class {
	case 1:
		putRequest[request384](r, 1)
	case 2:
		putRequest[request448](r, 2)
	case 3:
		putRequest[request512](r, 3)
	case 4:
		putRequest[request640](r, 4)
	case 5:
		putRequest[request1024](r, 5)
	case 6:
		putRequest[request1280](r, 6)
	case 7:
		putRequest[request1792](r, 7)
	default:
		panic("httpcore: a request with an unknown size class")
	}
	return true
}

// putBody gives the array under data, of the given body mark, back.
func putBody(data []byte, mark uint8) {
	p := unsafe.Pointer(unsafe.SliceData(data))
	switch mark {
	case 1:
		bodyPools[1].Put((*[2 << 10]byte)(p))
	case 2:
		bodyPools[2].Put((*[4 << 10]byte)(p))
	case 3:
		bodyPools[3].Put((*[8 << 10]byte)(p))
	case 4:
		bodyPools[4].Put((*[16 << 10]byte)(p))
	case 5:
		bodyPools[5].Put((*[32 << 10]byte)(p))
	case 6:
		bodyPools[6].Put((*[64 << 10]byte)(p))
	}
}

// Keep tells a server that reuses requests (ServerSettings.ReuseRequests in
// package streamhttp) that the handler keeps r, or strings or bytes of it,
// after its response: r's memory is then never reused. Call it before the
// handler returns r's response, from the goroutine that handles r. Without
// reuse it changes nothing.
func (r *Request) Keep() {
	if r.class != 0 {
		r.class = 0
		r.body = 0
	}
}
