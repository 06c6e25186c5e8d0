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

// requestObject is any of the objects a request is built in (message.go).
type requestObject interface {
	request384 | request448 | request512 | request640 | request1024 | request1280 | request1792
}

// requestPools holds recycled request objects, by class (1 for request384,
// up to 7 for request1792; 0 is unused).
var requestPools [8]sync.Pool

// takeRequest returns a zeroed request object of the given class: a
// recycled one when reuse is on and there is one, marked for recycling when
// reuse is on.
func takeRequest[T requestObject](class uint8, reuse bool) *T {
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
func putRequest[T requestObject](r *Request, class uint8) {
	o := (*T)(unsafe.Pointer(r))
	var zero T
	*o = zero // nothing of this request stays reachable from the pool
	requestPools[class].Put(o)
}

// Body arrays, by the largest body each holds: a request's body mark i
// is bodyArrays[i-1]. A larger body is allocated (and left to the
// collector) as without reuse.
var (
	bodyArrays = [...]struct {
		size int
		take func(r *Request, mark uint8, n int) []byte
		put  func(mark uint8, data []byte)
	}{
		{2 << 10, takeBody[[2 << 10]byte], putBody[[2 << 10]byte]},
		{4 << 10, takeBody[[4 << 10]byte], putBody[[4 << 10]byte]},
		{8 << 10, takeBody[[8 << 10]byte], putBody[[8 << 10]byte]},
		{16 << 10, takeBody[[16 << 10]byte], putBody[[16 << 10]byte]},
		{32 << 10, takeBody[[32 << 10]byte], putBody[[32 << 10]byte]},
		{64 << 10, takeBody[[64 << 10]byte], putBody[[64 << 10]byte]},
	}
	bodyPools [7]sync.Pool // by mark, 1 to len(bodyArrays)
)

// bodyPools has one pool per mark: this fails to compile otherwise.
var _ = [1]struct{}{}[len(bodyPools)-len(bodyArrays)-1]

type bodyArray interface {
	[2 << 10]byte | [4 << 10]byte | [8 << 10]byte | [16 << 10]byte | [32 << 10]byte | [64 << 10]byte
}

// takeBody returns n bytes for r's strict body, from a recycled array when
// there is one of the right size, and marks r with it. The bytes are not
// zeroed: the caller fills all n, and the slice's capacity is n, so nothing
// of an earlier body is visible.
func (r *Request) takeBody(n int) []byte {
	for i := range bodyArrays {
		if n <= bodyArrays[i].size {
			return bodyArrays[i].take(r, uint8(i+1), n)
		}
	}
	return make([]byte, n)
}

func takeBody[A bodyArray](r *Request, mark uint8, n int) []byte {
	var a *A
	if v := bodyPools[mark].Get(); v != nil {
		a = v.(*A)
	} else {
		a = new(A)
	}
	r.body = mark
	return unsafe.Slice((*byte)(unsafe.Pointer(a)), n)
}

// putBody gives the array under data, taken with the given mark, back.
func putBody[A bodyArray](mark uint8, data []byte) {
	bodyPools[mark].Put((*A)(unsafe.Pointer(unsafe.SliceData(data))))
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
		bodyArrays[r.body-1].put(r.body, r.strict.Data)
	}
	putRequests[r.class](r, r.class)
	return true
}

// putRequests gives a request of each class back (index: the class).
var putRequests = [...]func(r *Request, class uint8){
	1: putRequest[request384],
	2: putRequest[request448],
	3: putRequest[request512],
	4: putRequest[request640],
	5: putRequest[request1024],
	6: putRequest[request1280],
	7: putRequest[request1792],
}

// Keep tells a server that reuses requests (ServerSettings.ReuseRequests in
// package streamhttp) that the handler keeps r, or strings or bytes of it,
// after its response: r's memory is then never reused. Call it before the
// handler returns r's response, from the goroutine that handles r. Without
// reuse it changes nothing.
func (r *Request) Keep() {
	if r.class != 0 {
		r.class = 0 // RecycleRequest looks no further
	}
}
