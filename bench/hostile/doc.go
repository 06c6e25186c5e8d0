// Command hostile measures how a server stands up to hostile clients, for
// the streamhttp echo example and the net/http peer side by side
// (scripts/hostile.sh builds both and runs it; make hostile). Each scenario
// starts the server afresh, as a process of its own, on a loopback port,
// and stops it by its PID; every load is bounded in count and time.
//
// Scenarios, one table row each:
//
//   - slowloris N (2000 and 8000): N connections that send a request line
//     and then one header line every -loris-interval, never the end of the
//     head; one the server closes is dialled again after -redial. Normal
//     clients (-clients workers, each request on a new connection, since
//     the accept path is what slowloris attacks) run -dur before the
//     attack, -dur under it and -dur after it; the row is their requests
//     per second under the attack as a share of the mean of before and
//     after (the machine's speed drifts when it is shared).
//   - slow body: slowhttptest -B (50 connections each sending a POST /echo
//     body of 100 kB at 2 bytes a second) for -slowbody; the row is the
//     second at which the server had closed half of them (skipped without
//     slowhttptest).
//   - memory per slow reader (1 KiB and 1 MiB chunks): -readers clients
//     with a 4 KiB receive buffer (SO_RCVBUF, set before connecting) ask
//     for GET /stream?n=10000&size=S and never read; the row is the growth
//     of the server's resident set (VmRSS) once it has settled, divided by
//     the readers.
//   - exit after SIGTERM and after SIGINT: one such never-reading client is
//     connected when the signal comes; the row is the seconds until the
//     process exits (the servers run with a 2 s shutdown deadline), or
//     "killed" when it has not exited after -exit-cap.
//   - log lines per 1000 resets: -churn of clients that reset their
//     connections (SO_LINGER 0) after a whole request, in the middle of a
//     head, or after a response; the row counts the server's output lines
//     at levels above DEBUG written meanwhile.
//   - goroutines and fds after the churn: counted before it (after a
//     second of the same churn, so that what a server makes once on first
//     use is in the baseline) and again once the server is quiet, for up
//     to -settle (goroutines from the server's -debug-addr pprof endpoint,
//     file descriptors from /proc/PID/fd).
//
// The servers are given as command lines with {addr} and {debug} standing
// for their listening and debug addresses:
//
//	hostile -streamhttp '/tmp/echo -addr {addr} -debug-addr {debug}' \
//	        -nethttp '/tmp/nethttp -addr {addr} -debug-addr {debug}'
//
// The figures depend on the machine and on what else runs on it: the run
// prints what it measured, goals are in the issue and the README.
package main
