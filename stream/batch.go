package stream

// Batching through fused stages.
//
// A fused chain costs a few indirect calls per element and stage. Sinks that
// consume everything (Collect, Fold, Ignore) ask their upstream for up to
// batchSize elements per call when the stages above them support it
// (FromSlice, Map, Filter), so a run of such stages loops over a slice
// instead of calling through the chain for every element. Demand is still
// explicit: the sink asks for the batch. User functions of the batched
// stages then run up to batchSize elements ahead of the sink's own callback.

const batchSize = 64

// batchPuller is implemented by synchronous stages that can deliver several
// elements per call. pullBatch fills buf[:n] and returns n >= 1 and nil, or
// 0 and the terminal signal; it blocks no longer than Pull would for one
// element.
type batchPuller[T any] interface {
	Puller[T]
	pullBatch(buf []T) (int, error)
}

func (s *sliceSource[T]) pullBatch(buf []T) (int, error) {
	if s.done == nil && s.i < len(s.xs) {
		n := copy(buf, s.xs[s.i:])
		s.i += n
		return n, nil
	}
	if s.done == nil {
		s.done = EOS
	}
	return 0, s.done
}

// mapBatchStage is a Map whose upstream can batch.
type mapBatchStage[I, O any] struct {
	mapStage[I, O]
	bup batchPuller[I]
	in  []I
}

func (s *mapBatchStage[I, O]) pullBatch(buf []O) (int, error) {
	if len(s.in) < len(buf) {
		s.in = make([]I, len(buf))
	}
	in := s.in[:len(buf)]
	n, err := s.bup.pullBatch(in)
	if err != nil {
		s.ended = true
	}
	for i, v := range in[:n] {
		buf[i] = s.f(v)
	}
	clear(in[:n]) // hold no references for the collector
	return n, err
}

// filterBatchStage is a Filter whose upstream can batch.
type filterBatchStage[T any] struct {
	filterStage[T]
	bup batchPuller[T]
}

func (s *filterBatchStage[T]) pullBatch(buf []T) (int, error) {
	for i := 1; ; i++ {
		n, err := s.bup.pullBatch(buf)
		if err != nil {
			s.ended = true
			return 0, err
		}
		k := 0
		for _, v := range buf[:n] {
			if s.keep(v) {
				buf[k] = v
				k++
			}
		}
		clear(buf[k:n])
		if k > 0 {
			return k, nil
		}
		if i%(stopCheckEvery/batchSize) == 0 && s.m.Stopped() {
			return 0, s.stop()
		}
	}
}

// driveAll is drive for sinks that consume every element: it pulls in batches
// when the upstream supports it.
func driveAll[T any](m *Materializer, up Puller[T], each func(T)) (err error) {
	bp, ok := up.(batchPuller[T])
	if !ok {
		return drive(m, up, func(v T) error { each(v); return nil })
	}
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(v)
			up.Cancel(err)
		}
	}()
	buf := make([]T, batchSize)
	for {
		if m.Stopped() {
			cause := m.Cause()
			up.Cancel(cause)
			return cause
		}
		n, err := bp.pullBatch(buf)
		if err != nil {
			if err == EOS {
				return nil
			}
			return err
		}
		for _, v := range buf[:n] {
			each(v)
		}
		clear(buf[:n])
	}
}
