package wire

import "github.com/mqtthil/mqtthil/emulator/faults"

// mochi 2.7.9 answers a few client packets in ways MQTT 5 does not allow.
// The emulator must not pass its broker's own mistakes off as faults of the
// device under test, so the fault layer puts them right on the way out,
// before any rule sees the packet:
//
//   - A QoS 1 PUBLISH with properties gets a PUBACK with reason 1 ("granted
//     QoS 1"), a SUBACK code that PUBACK does not have (mochi uses its QoS
//     code table); without properties the reason is left off and reads as 0.
//     Sent as 0.
//   - A QoS 2 PUBLISH resent with DUP for an id mochi still holds gets PUBREC
//     145 ("packet identifier in use"); MQTT 5 section 4.3.3 says the
//     receiver acknowledges it again with a PUBREC and does not deliver it
//     twice. Sent as 0.
//   - mochi sends DISCONNECT to MQTT 3.1 and 3.1.1 clients (on a session
//     taken over, for one), which have no server DISCONNECT: the connection
//     is just closed. Not sent.

// noteDup remembers a resent QoS 2 PUBLISH; called for packets to the
// broker.
func (c *Conn) noteDup(p *faults.Packet) {
	if p.Type != faults.PUBLISH || p.QoS != 2 || !p.Dup || p.Version != 5 {
		return
	}
	c.mu.Lock()
	if c.dupQoS2 == nil {
		c.dupQoS2 = make(map[int]bool)
	}
	c.dupQoS2[p.PacketID] = true
	c.mu.Unlock()
}

// correct puts mochi's mistakes right in p; called for packets to the
// client. It reports false for a packet that must not be sent at all.
func (c *Conn) correct(p *faults.Packet) bool {
	if p.Type == faults.DISCONNECT && p.Version != 5 {
		return false
	}
	if p.Version != 5 || (p.Type != faults.PUBACK && p.Type != faults.PUBREC) {
		return true
	}
	start := faults.BodyStart(p.Raw)
	if len(p.Raw) < start+3 {
		return true
	}
	reason := p.Raw[start+2]
	fix := false
	switch {
	case reason == 1 || reason == 2:
		fix = true
	case reason == 145 && p.Type == faults.PUBREC:
		c.mu.Lock()
		fix = c.dupQoS2[p.PacketID]
		delete(c.dupQoS2, p.PacketID)
		c.mu.Unlock()
	}
	if fix {
		p.Raw = append([]byte(nil), p.Raw...)
		p.Raw[start+2] = 0
	}
	return true
}
