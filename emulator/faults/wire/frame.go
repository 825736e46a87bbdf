// Framing: cutting an MQTT byte stream into whole packets, from a socket
// (ReadFrame) or from writes in arbitrary pieces (Framer).
package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxPacket bounds the size of one framed packet (the MQTT maximum: 256 MiB
// of remaining length plus the fixed header).
const MaxPacket = 268435455 + 5

var errMalformedLength = errors.New("malformed remaining length")

// TooLargeError is a packet whose fixed header claims more bytes than the
// reader takes: refused from the header alone, before any of its body is
// read or buffered.
type TooLargeError struct {
	Size, Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("packet of %d bytes is larger than the limit of %d", e.Size, e.Limit)
}

// ReadFrame reads one whole MQTT packet, fixed header included, from r.
// It only frames: the packet's contents are not checked.
func ReadFrame(r *bufio.Reader) ([]byte, error) { return readFrameInto(r, nil, 0) }

// readFrameInto is ReadFrame reusing scratch when the packet fits in it,
// refusing a packet larger than limit (when limit > 0) with *TooLargeError.
// A packet's size is measured as mochi measures it against Maximum Packet
// Size: the remaining length plus one, so that the fault layer refuses
// exactly what the broker behind it would.
func readFrameInto(r byteSource, scratch []byte, limit int) ([]byte, error) {
	first, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	var hdr [5]byte
	hdr[0] = first
	n := 1
	remaining, mult := 0, 1
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, unexpected(err)
		}
		hdr[n] = b
		n++
		remaining += int(b&0x7f) * mult
		if b&0x80 == 0 {
			break
		}
		mult *= 128
		if n == 5 {
			return nil, errMalformedLength
		}
	}
	if limit > 0 && remaining+1 > limit {
		return nil, &TooLargeError{Size: n + remaining, Limit: limit}
	}
	if remaining <= 64<<10 {
		raw := scratch[:0]
		if cap(raw) < n+remaining {
			raw = make([]byte, n+remaining)
		}
		raw = raw[:n+remaining]
		copy(raw, hdr[:n])
		if _, err := io.ReadFull(r, raw[n:]); err != nil {
			return nil, unexpected(err)
		}
		return raw, nil
	}
	// A large length is only believed as far as bytes arrive: a header
	// alone must not make us allocate 256 MiB.
	buf := bytes.NewBuffer(make([]byte, 0, 64<<10))
	buf.Write(hdr[:n])
	if _, err := io.CopyN(buf, r, int64(remaining)); err != nil {
		return nil, unexpected(err)
	}
	return buf.Bytes(), nil
}

// byteSource is what frames are read from: a bufio.Reader, or a
// connection's sockread.Reader.
type byteSource interface {
	io.Reader
	io.ByteReader
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Framer cuts a byte stream that arrives in arbitrary pieces (mochi may
// write several packets at once, or one in parts) into whole packets.
type Framer struct {
	buf []byte
	out [][]byte
}

// Feed takes the next piece of the stream and returns every packet now
// complete. The packets may share memory with b: copy what must outlive
// the caller's use of b. The returned slice is the Framer's own and is
// reused by the next Feed.
func (f *Framer) Feed(b []byte) ([][]byte, error) {
	data := b
	if len(f.buf) > 0 {
		f.buf = append(f.buf, b...)
		data = f.buf
	}
	clear(f.out)
	f.out = f.out[:0]
	for {
		size, ok, err := frameSize(data)
		if err != nil {
			return f.out, err
		}
		if !ok {
			break
		}
		f.out = append(f.out, data[:size:size])
		data = data[size:]
	}
	// Keep the incomplete rest, in a buffer of our own.
	f.buf = append(f.buf[:0:0], data...)
	return f.out, nil
}

// Pending is the number of bytes of an incomplete packet held back.
func (f *Framer) Pending() int { return len(f.buf) }

// frameSize returns the size of the packet at the start of b, or ok=false
// when b does not hold all of it yet.
func frameSize(b []byte) (size int, ok bool, err error) {
	if len(b) < 2 {
		return 0, false, nil
	}
	remaining, mult := 0, 1
	for i := 1; ; i++ {
		if i == 5 {
			return 0, false, errMalformedLength
		}
		if i >= len(b) {
			return 0, false, nil
		}
		remaining += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			size = i + 1 + remaining
			return size, len(b) >= size, nil
		}
		mult *= 128
	}
}
