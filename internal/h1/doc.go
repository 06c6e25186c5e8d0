// Package h1 is the HTTP/1.1 engine of package streamhttp: the server layer
// of one connection (bytes in, requests out; responses in, bytes out), with
// no I/O of its own. streamhttp.ServerLayer is its public face, and
// streamhttp.ServeConn drives it over a connection: the driver (the reader,
// the writer and its flush rule, the watch of a client that leaves, the
// linger) is streamhttp's serveconn.go, writer.go and watch.go, shared with
// the HTTP/2 engine (package internal/h2), which has the same shape.
//
// # Stages
//
// The layer is a stack of small stages that share one per-connection state
// (conn, one mutex, no goroutine of its own). Each box is code in one file,
// the one owner of its decision:
//
//	            +------------------------------------------------------------+
//	 *Response  | reorder -----> request timeout -> 100-continue -> render    | []byte
//	   ~> I1    | conn.link      conn.onTimer       continueFirst   outbound  |  O1 ~>
//	            | (outbound.go)  (timeout.go)       (continue.go)   .render   |
//	            |                                                             |
//	            |   the close decision, for every stage: close.go, beginClose |
//	            |                                                             |
//	 *Request   | guard <------- request timeout <- parse <-----------------  | []byte
//	   <~ O2    | inbound        conn.armTimer      inbound.next; body        |  <~ I2
//	            | .waitSlot      (timeout.go)       (inbound.go; body.go)     |
//	            +------------------------------------------------------------+
//
//	inbound.go    parse (inbound.next) and the pipelining guard (inbound.waitSlot)
//	body.go       streamed request bodies (body) and their limits
//	timeout.go    the request timeout (503) and when the client is watched
//	continue.go   when 100 Continue is sent
//	close.go      whether and why a connection closes (beginClose, mustClose)
//	outbound.go   linking responses to requests (reorder: the exchanges are held
//	              by Seq in a reorder.Window, stream.Reorder's code) and rendering
//	asynccall.go  handler functions joined to the layer: inline, or goroutines
//	upgrade.go    the barrier before a protocol switch, and the switch
//	interim.go    1xx responses written ahead of the final one
//	logging.go    what is logged at which level; accesslog.go, the access log
//	layer.go      the shared state (conn, exchange) and the input
//	conn.go       the boundary: Config, Hooks, Conn
//
// # The boundary
//
// The driver makes the layer of each run with NewConn, giving it the
// run's Hooks explicitly (the out-of-band writer, the statistics, the end
// of the run, the slot a connection earns), and holds the returned Conn:
// the layer never registers itself anywhere. Config is the engine's view
// of streamhttp.ServerSettings, filled once when the settings are resolved
// and shared read-only by every connection. The requests' contexts lead
// back to their layer (WriteInterim and a failed handler's log take only a
// request), and nothing else does.
//
// # Locks
//
// The state of a connection is guarded by conn.mu; its input by conn.inMu,
// held by whoever reads it (the inbound stage, or a handler reading a
// body). Functions whose callers must hold one say so and check it
// (mustHold, mustHoldInput) when lockChecks is on, as it is in tests
// (CheckLocks).
package h1
