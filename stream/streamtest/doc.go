// Package streamtest tests stream stages deterministically, the way Pekko's
// TestSource and TestSink do: the test drives both ends of a flow by hand.
//
// # Probes
//
// A [SourceProbe] is a source whose every pull (the demand) the test sees
// with ExpectRequest and answers with SendNext, SendComplete or SendError;
// ExpectCancellation returns the cause a cancellation carried. A
// [SinkProbe] pulls only when the test calls Request(n) and hands each
// signal to ExpectNext, ExpectComplete or ExpectError; Cancel cancels its
// upstream, also while a pull is in flight. [ProbeFlow] starts a flow
// between a new source probe and a new sink probe.
//
//	p := streamtest.ProbeFlow(t, ctx, stream.Map(double))
//	p.Out.Request(1)
//	p.In.ExpectRequest()
//	p.In.SendNext(21)
//	if got := p.Out.ExpectNext(); got != 42 { ... }
//
// The probes also check the stream protocol: a pull after a terminal
// signal or after a cancellation, a flow that passes a cancellation on
// after its upstream's terminal signal, and Request with n <= 0 fail the
// test. The sink probe's Cancel goes through the flow's Puller.Cancel when
// no pull is outstanding, and through the upstream island's context (as a
// downstream async boundary does) when one is; it never cancels the run.
//
// # The contract suite
//
// [CheckFlow] runs the contract every operator of package stream keeps
// (package stream runs it over each of its operators), each rule a
// subtest: demand never exceeded (no pull without demand; for async flows
// an exact run-ahead, [FlowCase.RunAhead]), completion and one terminal
// signal with nothing after it, failures passing through, cancellation
// reaching upstream with its cause (with and without a pull in flight) and
// stopping a running producer, a panicking user function, a construction
// failure upstream or downstream releasing what was built, and context
// cancellation mid-stream. Every run is awaited, and a run ends only when
// the goroutines it started have exited; run your package under a
// goroutine leak check to catch goroutines started otherwise. Describe a
// custom flow with a [FlowCase] and run it in your own tests.
//
// A flow that returns its upstream Puller itself, unwrapped, cannot be
// told from its upstream by the probes: the sink's (allowed) cancellation
// after the end then looks like one the flow passed on. Check the stage
// such a flow stands for instead.
//
// # Timing
//
// Expect methods wait up to [Timeout]; checks that nothing happens wait
// [Quiet]. Inside a testing/synctest bubble both are virtual time.
package streamtest
