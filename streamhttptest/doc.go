// Package streamhttptest helps test request handlers by replaying traffic
// through the server layer, without sockets: the bytes clients sent go in,
// the bytes the server writes come out and are compared with what they
// should be.
//
// # Overview
//
// A replay takes the request stream of one connection, runs it through
// streamhttp.Replay with the handler and settings under test, and compares
// the output with the expected response stream after NormalizeDate
// (Date fields carry the time). A difference fails the test with a diff of
// the lines, line ends shown, so a missing header or a changed body is easy
// to spot:
//
//	func TestHello(t *testing.T) {
//		streamhttptest.CheckReplay(t, handler, streamhttp.ServerSettings{},
//			[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
//			[]byte("HTTP/1.1 200 OK\r\nServer: streamhttp\r\nDate: ...\r\n..."))
//	}
//
// # Captures
//
// Real traffic is the best test data: ReplayFiles replays a request stream
// saved in one file against the response stream saved in another, and
// ReplayPcap replays every connection of a tcpdump capture (classic pcap;
// see pcap.ReadStreams for the formats). Record a capture of a
// server on loopback with
//
//	tcpdump -i lo -s 0 -U -w NAME.pcap 'tcp port 8080'
//
// while clients talk to it; the repository's scripts/capture.sh does that
// for the echo example. A capture replays to the same bytes as long as the
// handler's answers depend only on the requests: not on the time (other than
// the Date field), on randomness, or on how the input was split into reads
// (see streamhttp.Replay).
//
// # Limits
//
// The helpers are for tests: they keep every stream in memory.
package streamhttptest
