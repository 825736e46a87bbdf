package faults

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

// ReadFrame reads one whole MQTT packet, fixed header included, from r.
// It only frames: the packet's contents are not checked.
func ReadFrame(r *bufio.Reader) ([]byte, error) { return readFrameInto(r, nil) }

// readFrameInto is ReadFrame reusing scratch when the packet fits in it.
func readFrameInto(r *bufio.Reader, scratch []byte) ([]byte, error) {
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

// bodyStart is the offset of the variable header: after the first byte and
// the remaining-length bytes.
func bodyStart(raw []byte) int {
	i := 1
	for i < len(raw) && i < 5 && raw[i]&0x80 != 0 {
		i++
	}
	return i + 1
}

// encodeLength appends MQTT's variable-length encoding of n.
func encodeLength(dst []byte, n int) []byte {
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		dst = append(dst, b)
		if n == 0 {
			return dst
		}
	}
}

// withBody rebuilds a packet around a new variable header and payload.
func withBody(first byte, body []byte) []byte {
	out := make([]byte, 0, len(body)+5)
	out = append(out, first)
	out = encodeLength(out, len(body))
	return append(out, body...)
}

// Parse reads the fields rules match on. version is the connection's
// protocol version (3, 4 or 5), 0 before CONNECT has been seen.
func Parse(raw []byte, dir Direction, version byte) (Packet, error) {
	return parse(raw, dir, version, "")
}

// parse is Parse, taking the topic from lastTopic when the packet's is the
// same: a connection mostly publishes to a few topics, and this saves a
// string for each packet.
func parse(raw []byte, dir Direction, version byte, lastTopic string) (Packet, error) {
	p := Packet{Raw: raw, Direction: dir, Version: version, PacketID: -1}
	if len(raw) < 2 {
		return p, fmt.Errorf("packet of %d bytes is too short", len(raw))
	}
	p.Type = raw[0] >> 4
	p.Flags = raw[0] & 0x0f
	body := raw[bodyStart(raw):]
	switch p.Type {
	case 3: // PUBLISH
		p.Dup = p.Flags&0x08 != 0
		p.QoS = int(p.Flags>>1) & 0x03
		p.Retain = p.Flags&0x01 != 0
		if len(body) < 2 {
			return p, fmt.Errorf("PUBLISH without a topic")
		}
		tl := int(body[0])<<8 | int(body[1])
		if len(body) < 2+tl {
			return p, fmt.Errorf("PUBLISH topic length %d runs past the packet", tl)
		}
		if t := body[2 : 2+tl]; string(t) == lastTopic {
			p.Topic = lastTopic
		} else {
			p.Topic = string(t)
		}
		if p.QoS > 0 {
			if len(body) < 4+tl {
				return p, fmt.Errorf("PUBLISH QoS %d without a packet id", p.QoS)
			}
			p.PacketID = int(body[2+tl])<<8 | int(body[3+tl])
		}
	case 4, 5, 6, 7, 8, 9, 10, 11:
		if len(body) < 2 {
			return p, fmt.Errorf("%s without a packet id", PacketNames[p.Type])
		}
		p.PacketID = int(body[0])<<8 | int(body[1])
	}
	return p, nil
}

// packetIDOffset is where the packet identifier sits in raw, or -1.
func packetIDOffset(p *Packet) int {
	start := bodyStart(p.Raw)
	switch {
	case p.Type == 3 && p.QoS > 0:
		return start + 2 + len(p.Topic)
	case p.Type >= 4 && p.Type <= 11:
		return start
	}
	return -1
}

// propsEnd skips an MQTT 5 property block starting at b[0] and returns the
// offset just past it.
func propsEnd(b []byte) (int, error) {
	n, mult := 0, 1
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, fmt.Errorf("property length runs past the packet")
		}
		n += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			if i+1+n > len(b) {
				return 0, fmt.Errorf("properties of %d bytes run past the packet", n)
			}
			return i + 1 + n, nil
		}
		mult *= 128
	}
	return 0, errMalformedLength
}
