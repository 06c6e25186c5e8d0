package httpcore

import (
	"testing"
	"unsafe"

	"github.com/streamhttp/streamhttp/entity"
)

// TestSharedForRequest: ForRequest links a response it may modify in
// place, and returns a linked copy of a shared one, which stays as it was;
// the copy is the caller's own (header and strict entity included).
func TestSharedForRequest(t *testing.T) {
	req := &Request{Seq: 7}

	own := Text(StatusOK, "hi")
	if got := own.ForRequest(req); got != own || own.Seq != 7 || own.IsShared() {
		t.Errorf("ForRequest of an unshared response: %p (Seq %d, shared %v), want %p with Seq 7, not shared", got, got.Seq, got.IsShared(), own)
	}

	for _, tc := range []struct {
		name   string
		shared *Response
	}{
		{"Text", Text(StatusOK, "Hello, World!")},
		{"Bytes", Bytes(StatusCreated, "application/json", []byte(`{}`))},
		{"NewResponse", NewResponse(StatusAccepted, entity.NewStrict("text/plain", []byte("x")))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shared := tc.shared
			shared.Header.Add("X-Kind", "shared")
			if got := shared.Shared(); got != shared || !shared.IsShared() {
				t.Fatalf("Shared returned %p (shared %v), want %p marked shared", got, got.IsShared(), shared)
			}
			entityBefore := shared.Entity
			linked := shared.ForRequest(req)
			if linked == shared {
				t.Fatal("ForRequest of a shared response returned it, not a copy")
			}
			if shared.Seq != 0 || shared.Entity != entityBefore || len(shared.Header) != 1 {
				t.Errorf("the shared response changed: Seq %d, header %v", shared.Seq, shared.Header)
			}
			if linked.Seq != 7 || linked.IsShared() || linked.Status != shared.Status || linked.Proto != shared.Proto {
				t.Errorf("copy: Seq %d, shared %v, status %d; want Seq 7, not shared, status %d", linked.Seq, linked.IsShared(), linked.Status, shared.Status)
			}
			// The copy's entity: of its own storage when the shared one's
			// was (Text, Bytes), else the same entity.
			if entityBefore == entity.Entity(&shared.strict) {
				if linked.Entity != entity.Entity(&linked.strict) {
					t.Error("the copy's entity is the shared response's storage, not its own")
				}
			} else if linked.Entity != entityBefore {
				t.Error("the copy's entity is not the shared response's")
			}
			if string(linked.Entity.(*entity.Strict).Data) != string(entityBefore.(*entity.Strict).Data) {
				t.Error("the copy's body differs")
			}
			linked.Header[0].Value = "copy"
			linked.Header.Add("X-More", "1")
			if shared.Header[0].Value != "shared" || len(shared.Header) != 1 {
				t.Errorf("modifying the copy's header changed the shared one: %v", shared.Header)
			}
		})
	}
}

// TestResponseSize: the status, the version and the shared flag share one
// word (Status is 16 bits), so that a Response, OnWritten included, stays
// 112 bytes, the runtime's 112-byte size class, which every response a
// handler makes is allocated in.
func TestResponseSize(t *testing.T) {
	if n := unsafe.Sizeof(Response{}); n != 112 {
		t.Errorf("a Response is %d bytes, want 112", n)
	}
}
