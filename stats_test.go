package streamhttp

import "testing"

// The busiest counters are kept in shards, one per connection in turn: a
// snapshot adds up every shard, and a reset zeroes them all.
func TestStatsShardsAddUp(t *testing.T) {
	s := newServerStats()
	conns := 3*statShards + 1 // every shard, some more than once
	for i := range conns {
		c := &connStats{s: s, sh: s.shard()}
		for range i + 1 {
			c.RequestStarted()
			c.sh.bytesIn.Add(10)
			c.sh.bytesOut.Add(100)
			c.RequestDone()
		}
	}
	want := int64(conns * (conns + 1) / 2)
	st := s.snapshot()
	if st.TotalRequests != want || st.BytesIn != 10*want || st.BytesOut != 100*want || st.OpenRequests != 0 || st.MaxOpenRequests != 1 {
		t.Fatalf("snapshot %+v, want %d requests, %d bytes in, %d out, none open, at most 1", st, want, 10*want, 100*want)
	}
	for i := range s.shards {
		if s.shards[i].totalRequests.Load() == 0 {
			t.Errorf("shard %d unused by %d connections", i, conns)
		}
	}
	s.reset()
	if st := s.snapshot(); st.TotalRequests != 0 || st.BytesIn != 0 || st.BytesOut != 0 {
		t.Fatalf("after reset: %+v, want the totals zero", st)
	}
}
