package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
)

// HTTP/2 frame types and flags used here (RFC 9113 §6).
const (
	frameData     = 0x0
	frameHeaders  = 0x1
	frameSettings = 0x4
	frameGoAway   = 0x7
	flagEndStream = 0x1
	flagAck       = 0x1
	flagEndHdrs   = 0x4
)

// frame returns one frame.
func frame(typ, flags byte, stream uint32, payload []byte) []byte {
	b := make([]byte, 9, 9+len(payload))
	b[0], b[1], b[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	b[3], b[4] = typ, flags
	binary.BigEndian.PutUint32(b[5:], stream)
	return append(b, payload...)
}

// hpackLiteral encodes a field as a literal with incremental indexing
// whose name is static table entry idx (RFC 7541 §6.2.1), without Huffman
// coding; value must be shorter than 127 bytes.
func hpackLiteral(idx byte, value string) []byte {
	return append([]byte{0x40 | idx, byte(len(value))}, value...)
}

// h2Request is the client preface, an empty SETTINGS and a GET of path on
// stream 1. The path and authority are indexed (the server's HPACK table
// holds them afterwards, as with a real client).
func h2Request(addr, path string) string {
	block := []byte{0x82, 0x86} // :method GET, :scheme http (RFC 7541 Appendix A)
	block = append(block, hpackLiteral(4, path)...)
	block = append(block, hpackLiteral(1, addr)...)
	out := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	out = append(out, frame(frameSettings, 0, 0, nil)...)
	out = append(out, frame(frameHeaders, flagEndHdrs|flagEndStream, 1, block)...)
	return string(out)
}

// h2Answer reads frames until stream 1 ends, acknowledging the server's
// SETTINGS; the answer's status must be 200 (its first field, encoded as
// static entry 8 by any encoder that indexes it).
func h2Answer(c net.Conn) error {
	r := bufio.NewReaderSize(c, 4096)
	var hdr [9]byte
	status := false
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		typ, flags, id := hdr[3], hdr[4], binary.BigEndian.Uint32(hdr[5:])&(1<<31-1)
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return err
		}
		switch {
		case typ == frameSettings && flags&flagAck == 0:
			if _, err := c.Write(frame(frameSettings, flagAck, 0, nil)); err != nil {
				return err
			}
		case typ == frameGoAway:
			return fmt.Errorf("GOAWAY from the server: %x", payload)
		case typ == frameHeaders && id == 1 && !status:
			if n == 0 || payload[0] != 0x88 {
				return fmt.Errorf("the answer's status is not 200 (header block %x)", payload)
			}
			status = true
		}
		if id == 1 && (typ == frameHeaders || typ == frameData) && flags&flagEndStream != 0 {
			if !status {
				return fmt.Errorf("stream 1 ended without a header block")
			}
			return nil
		}
	}
}
