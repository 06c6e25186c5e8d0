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
// signal or after a cancellation fails the test when it ends.
//
// # The contract suite
//
// [CheckFlow] runs the contract every operator of package stream must
// keep, each check a subtest: no emission without demand, completion,
// failure passing through, cancellation reaching upstream with its cause
// (with and without a pull in flight), no signal after a terminal one, a
// panicking user function, and context cancellation mid-stream. Describe a
// custom flow with a [FlowCase] and run it in your own tests.
//
// # Timing
//
// Expect methods wait up to [Timeout]; checks that nothing happens wait
// [Quiet]. Inside a testing/synctest bubble both are virtual time.
package streamtest
