package streamhttp

import (
	"net"
	"time"
)

// AccessRecord is what ServerSettings.AccessLog learns of each response.
type AccessRecord struct {
	// Method is as received (HEAD even under TransparentHEAD), Target the
	// request-target as sent (path and query); both are "" for a request
	// that did not parse, which the server answered itself (400, 414, 431).
	Method string
	Target string
	Status int // the status sent: the handler's, or the server's own (408, 503, ...)
	// BodyBytes is the length of the response body sent: 0 for HEAD, 1xx,
	// 204 and 304; -1 for a body whose length was not declared (chunked or
	// close-delimited, streamed).
	BodyBytes int64
	// Duration runs from the moment the request's head was parsed to the
	// moment its response was rendered (handed to the connection's write
	// buffer); 0 for a request that did not parse.
	Duration time.Duration
	// RemoteAddr is the client's address: the PROXY protocol header's
	// source behind a balancer (see ServerSettings.ProxyProtocol).
	RemoteAddr net.Addr
	Seq        uint64 // the request's position on its connection, from 1
}
