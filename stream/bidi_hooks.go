package stream

// DeferFlow calls factory once per materialization, while the graph is being
// materialized (not at the first pull, unlike [Lazy]), and runs the flow it
// returns in its place. It is how a blueprint gets fresh state for every run
// that several of its stages share: package bidi builds the two directions
// of a stateful bidi stage with it, so that each run of a joined flow has
// its own instance of the state.
//
// The returned flow is built with the materializer the deferred flow is
// built with: when it is synchronous it is fused with its neighbours as if
// it had been written in place. factory runs in the goroutine that
// materializes the graph; a panic in it fails the run with a [*PanicError].
// factory must return a usable flow (not the zero Flow).
//
//	DeferFlow(f):  (materialize) f() -> g;  in -- 1 -- 2 --|  [ g ]  out -- g(1) -- g(2) --|
func DeferFlow[I, O any](factory func(m *Materializer) Flow[I, O]) Flow[I, O] {
	return Flow[I, O]{build: func(m *Materializer, up func(*Materializer) Puller[I]) Puller[O] {
		return factory(m).build(m, up)
	}}
}
