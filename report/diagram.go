package report

import (
	"cmp"
	"fmt"
	"html"
	"slices"
	"strings"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// The sequence diagram's geometry, in SVG user units (pixels at 1:1).
const (
	rowH      = 20  // one row per call, return, callback, packet or note
	headH     = 44  // lane titles
	laneDrv   = 150 // the driver: calls, returns, callbacks
	laneWire  = 375 // the C4:MQTT client object: the wire as the controller sent it
	laneFault = 545 // the fault layer
	laneBrk   = 705 // the broker
	laneSub   = 905 // subscribers on the control listener
	bracketX  = 112 // rightmost msgId bracket column; more go left of it
	maxRows   = 400 // rows drawn; a longer scenario keeps its first and last half
)

// row kinds
const (
	rowCall = iota
	rowReturn
	rowCallback
	rowPacket
	rowConn
	rowFault
	rowObserver
	rowEnd
)

type row struct {
	t    time.Duration // since the scenario started
	kind int
	ord  int // order of creation, to keep ties stable

	call *callRow
	ev   *controller.Event
	rec  *journal.Record

	id  string // element id, for msgId links
	ref string // element id this row links to
}

type callRow struct {
	client, call, args string
	ret                controller.Ret
	at                 time.Time
}

// bracket links a call's returned msgId to the callback that answers it.
type bracket struct {
	from, to int // row indexes; to -1: never answered
	msgID    int
	col      int
}

// diagram lays out one scenario's calls, callbacks, packets and observer
// deliveries as rows on one time line.
type diagram struct {
	sf       *ScenarioFile
	prefix   string // element id prefix, unique in the page
	rows     []row
	brackets []bracket
	multi    bool // more than one client: labels name the client
	observer bool
	skipped  int // rows left out in the middle
	skipAt   int // index of the first row after the gap
}

func newDiagram(sf *ScenarioFile, prefix string) *diagram {
	d := &diagram{sf: sf, prefix: prefix, observer: len(sf.Observer) > 0, multi: len(sf.Clients) > 1}
	ids := sf.Clients
	idOf := func(name string) string {
		if id, ok := ids[name]; ok {
			return id
		}
		return name
	}
	n := 0
	add := func(r row) {
		r.ord = n
		n++
		d.rows = append(d.rows, r)
	}
	jt := func(rec *journal.Record) time.Duration {
		return sf.JournalStart.Add(time.Duration(rec.TNs)).Sub(sf.Started)
	}
	// A call is recorded when it returns. The packet it sent before
	// returning is journaled earlier, so the call's row moves up to just
	// before that packet.
	sends := map[string]string{"Publish": "PUBLISH", "Connect": "CONNECT", "Reconnect": "CONNECT",
		"Subscribe": "SUBSCRIBE", "Unsubscribe": "UNSUBSCRIBE", "Disconnect": "DISCONNECT"}
	var prevCall time.Duration
	for i := range sf.Calls {
		c := &sf.Calls[i]
		ret := c.At.Sub(sf.Started)
		start := ret
		id := idOf(c.Client)
		for j := range sf.Records {
			r := &sf.Records[j]
			t := jt(r)
			if r.Kind == journal.KindPacket && r.Dir == "to_broker" && r.Client == id && r.Type == sends[c.Call] &&
				(c.Ret.MsgID == 0 || r.PacketID == c.Ret.MsgID) && t > prevCall && t <= ret && t-1 < start {
				start = t - 1
			}
		}
		prevCall = ret
		cr := &callRow{client: c.Client, call: c.Call, args: c.Args, ret: c.Ret, at: c.At}
		add(row{t: start, kind: rowCall, call: cr})
		add(row{t: ret, kind: rowReturn, call: cr})
	}
	for i := range sf.Events {
		add(row{t: sf.Events[i].At.Sub(sf.Started), kind: rowCallback, ev: &sf.Events[i]})
	}
	for i := range sf.Observer {
		add(row{t: sf.Observer[i].At.Sub(sf.Started), kind: rowObserver, ev: &sf.Observer[i]})
	}
	for i := range sf.Records {
		r := &sf.Records[i]
		k := rowPacket
		switch r.Kind {
		case journal.KindOpen, journal.KindClose:
			k = rowConn
		case journal.KindFault:
			k = rowFault
		}
		add(row{t: jt(r), kind: k, rec: r})
	}
	slices.SortStableFunc(d.rows, func(a, b row) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.ord, b.ord)
	})
	if sf.Outcome != Passed && sf.Outcome != Skipped {
		add(row{t: sf.Ended.Sub(sf.Started), kind: rowEnd})
	}
	d.link()
	if len(d.rows) > maxRows {
		d.skipAt = maxRows / 2
		d.skipped = len(d.rows) - maxRows
	}
	return d
}

// link pairs each call that returned a msgId with the callback that names
// it: Publish with onPublish, Subscribe with onSubscribe, Unsubscribe with
// onUnsubscribe.
func (d *diagram) link() {
	answer := map[string]controller.EventKind{
		"Publish": controller.OnPublish, "Subscribe": controller.OnSubscribe, "Unsubscribe": controller.OnUnsubscribe,
	}
	used := map[int]bool{}
	for i := range d.rows {
		r := &d.rows[i]
		if r.kind != rowReturn || !r.call.ret.OK() || !r.call.ret.HasMsgID() {
			continue
		}
		kind, ok := answer[r.call.call]
		if !ok {
			continue
		}
		id := r.call.client
		if cid, ok := d.sf.Clients[id]; ok {
			id = cid
		}
		b := bracket{from: i, to: -1, msgID: r.call.ret.MsgID}
		for j := i + 1; j < len(d.rows); j++ {
			e := d.rows[j].ev
			if d.rows[j].kind == rowCallback && !used[j] && e.Kind == kind && e.MsgID == b.msgID && e.Client == id {
				b.to = j
				used[j] = true
				break
			}
		}
		r.id = fmt.Sprintf("%s-r%d", d.prefix, i)
		if b.to >= 0 {
			d.rows[b.to].id = fmt.Sprintf("%s-r%d", d.prefix, b.to)
			r.ref, d.rows[b.to].ref = d.rows[b.to].id, r.id
		}
		d.brackets = append(d.brackets, b)
	}
	// Columns: a bracket takes the rightmost column free over its span.
	var ends []int // per column, the last row it is busy to
	for i := range d.brackets {
		b := &d.brackets[i]
		end := b.to
		if end < 0 {
			end = len(d.rows)
		}
		b.col = -1
		for c, e := range ends {
			if e < b.from {
				b.col = c
				ends[c] = end
				break
			}
		}
		if b.col < 0 {
			b.col = len(ends)
			ends = append(ends, end)
		}
	}
}

// visible maps a row index to its drawn position, or -1 when left out.
func (d *diagram) visible(i int) int {
	if d.skipped == 0 || i < d.skipAt {
		return i
	}
	if i < d.skipAt+d.skipped {
		return -1
	}
	return i - d.skipped + 1 // one row for the gap notice
}

func (d *diagram) y(pos int) int { return headH + 14 + pos*rowH }

// SVG draws the diagram.
func (d *diagram) SVG() string {
	var b strings.Builder
	width := laneBrk + 70
	if d.observer {
		width = laneSub + 50
	}
	nrows := len(d.rows) - d.skipped
	if d.skipped > 0 {
		nrows++
	}
	if nrows == 0 {
		nrows = 1
	}
	height := d.y(nrows) + 6
	fmt.Fprintf(&b, `<svg class="sq" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="sequence diagram">`, width, height, width, height)
	// lanes
	lanes := []struct {
		x     int
		title string
		cls   string
	}{{laneDrv, "driver", "ld"}, {laneWire, "C4:MQTT client (wire out)", "lw"}, {laneFault, "fault layer", "lf"}, {laneBrk, "broker", "lb"}}
	if d.observer {
		lanes = append(lanes, struct {
			x     int
			title string
			cls   string
		}{laneSub, "observer", "ls"})
	}
	for _, l := range lanes {
		w := 8*len(l.title) + 16
		fmt.Fprintf(&b, `<rect class="lh %s" x="%d" y="6" width="%d" height="24" rx="4"/><text class="lt" x="%d" y="23">%s</text><path class="ll" d="M%d 30V%d"/>`,
			l.cls, l.x-w/2, w, l.x, esc(l.title), l.x, height)
	}
	fmt.Fprintf(&b, `<text class="tm" x="4" y="23">ms</text>`)
	if len(d.rows) == 0 {
		fmt.Fprintf(&b, `<text class="nt" x="%d" y="%d">no calls, callbacks or packets</text>`, laneWire, d.y(0))
	}
	d.drawBrackets(&b)
	for i := range d.rows {
		pos := d.visible(i)
		if pos < 0 {
			continue
		}
		if d.skipped > 0 && i == d.skipAt+d.skipped {
			y := d.y(pos - 1)
			fmt.Fprintf(&b, `<text class="gap" x="%d" y="%d">… %d rows left out here: %s has them all …</text>`, laneWire, y+4, d.skipped, esc(d.sf.JournalFile))
		}
		d.drawRow(&b, &d.rows[i], d.y(pos))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

var bracketColors = []string{"#6a1b9a", "#00838f", "#ef6c00", "#2e7d32", "#ad1457", "#1565c0"}

func (d *diagram) drawBrackets(b *strings.Builder) {
	for _, br := range d.brackets {
		from := d.visible(br.from)
		if from < 0 {
			continue
		}
		x := bracketX - 9*(br.col%6)
		y1 := d.y(from) - 4
		color := bracketColors[br.msgID%len(bracketColors)]
		if br.to < 0 {
			y2 := d.y(len(d.rows)-d.skipped) - 8
			fmt.Fprintf(b, `<path class="bx" d="M%d %dH%dV%d"/><text class="bxt" x="%d" y="%d">no callback for msgId %d</text>`,
				laneDrv, y1, x, y2, x-2, y2+12, br.msgID)
			continue
		}
		to := d.visible(br.to)
		if to < 0 {
			continue
		}
		y2 := d.y(to) - 4
		fmt.Fprintf(b, `<path class="br" stroke="%s" d="M%d %dH%dV%dH%d"><title>msgId %d</title></path>`, color, laneDrv, y1, x, y2, laneDrv, br.msgID)
	}
}

func (d *diagram) label(client, s string) string {
	if d.multi && client != "" {
		return client + ": " + s
	}
	return s
}

// arrow draws a line from x1 to x2 at y with a label centred above it.
func arrow(b *strings.Builder, cls string, x1, x2, y int, label, title string) {
	fmt.Fprintf(b, `<path class="%s" d="M%d %dH%d"/>`, cls, x1, y, x2)
	if label == "" {
		return
	}
	max := (abs(x2-x1) - 10) / 7
	fmt.Fprintf(b, `<text class="t%s" x="%d" y="%d">`, cls, (x1+x2)/2, y-4)
	if title != "" && clip(label, max) != label {
		fmt.Fprintf(b, `<title>%s</title>`, esc(title))
	}
	b.WriteString(esc(clip(label, max)))
	b.WriteString(`</text>`)
}

func (d *diagram) drawRow(b *strings.Builder, r *row, y int) {
	fmt.Fprintf(b, `<text class="tm" x="4" y="%d">%s</text>`, y, ms(r.t))
	open, close := "", ""
	if r.id != "" {
		open = fmt.Sprintf(`<g id="%s">`, r.id)
		close = `</g>`
	}
	b.WriteString(open)
	switch r.kind {
	case rowCall:
		c := r.call
		arrow(b, "ca", laneDrv, laneWire, y, d.label(c.client, c.call+"("+c.args+")"), c.client+": "+c.call+"("+c.args+")")
	case rowReturn:
		c := r.call
		s := fmt.Sprintf("→ %d", c.ret.Code)
		if c.ret.HasMsgID() {
			s += fmt.Sprintf(", msgId %d", c.ret.MsgID)
		} else if c.call == "Publish" || c.call == "Subscribe" || c.call == "Unsubscribe" {
			s += ", nil"
		}
		if c.ret.Err != "" {
			s += " (" + c.ret.Err + ")"
		}
		cls := "re"
		if !c.ret.OK() {
			cls = "rf"
		}
		if r.ref != "" {
			fmt.Fprintf(b, `<a href="#%s">`, r.ref)
		}
		arrow(b, cls, laneWire, laneDrv, y, s, c.call+" returned "+s)
		if r.ref != "" {
			b.WriteString(`</a>`)
		}
	case rowCallback:
		if r.ref != "" {
			fmt.Fprintf(b, `<a href="#%s">`, r.ref)
		}
		s := eventLabel(r.ev)
		arrow(b, "cb", laneWire, laneDrv, y, d.label(d.nameOf(r.ev.Client), s), s)
		if r.ref != "" {
			b.WriteString(`</a>`)
		}
	case rowObserver:
		arrow(b, "os", laneBrk, laneSub, y, eventLabel(r.ev), eventLabel(r.ev))
	case rowPacket:
		d.drawPacket(b, r.rec, y)
	case rowConn:
		rec := r.rec
		s := fmt.Sprintf("conn %d opened", rec.Conn)
		if rec.Kind == journal.KindClose {
			s = fmt.Sprintf("conn %d closed", rec.Conn)
			if rec.Cause != "" {
				s += ": " + rec.Cause
			}
		}
		cls := "nt"
		if rec.Rule != "" {
			cls = "nf"
			s += " [" + rec.Action + " by " + rec.Rule + "]"
		}
		fmt.Fprintf(b, `<text class="%s" x="%d" y="%d"><title>%s</title>%s</text>`, cls, (laneWire+laneBrk)/2, y-4, esc(rec.String()), esc(clip(d.label(d.nameOf(rec.Client), s), 52)))
	case rowFault:
		rec := r.rec
		s := "⚡ " + rec.Action
		if rec.Rule != "" {
			s += " (rule " + rec.Rule + ")"
		}
		if rec.Cause != "" {
			s += ": " + rec.Cause
		}
		fmt.Fprintf(b, `<circle class="fd" cx="%d" cy="%d" r="4"/><text class="nf" x="%d" y="%d"><title>%s</title>%s</text>`, laneFault, y-4, laneFault, y-8, esc(rec.String()), esc(clip(s, 46)))
	case rowEnd:
		fmt.Fprintf(b, `<path class="end" d="M4 %dH%d"/><text class="te" x="%d" y="%d">scenario %s</text>`, y-2, laneBrk+60, laneDrv+8, y-6, esc(d.sf.Outcome))
	}
	b.WriteString(close)
}

// drawPacket draws a packet from the controller to the broker or back,
// through the fault layer; what a rule did is drawn in red at the fault
// layer, and a dropped packet ends there.
func (d *diagram) drawPacket(b *strings.Builder, rec *journal.Record, y int) {
	lbl := d.label(d.nameOf(rec.Client), packetLabel(rec))
	title := ""
	if rec.Topic != "" || len(lbl) > 28 {
		title = "<title>" + esc(rec.String()) + "</title>"
	}
	from, to := laneWire, laneBrk
	if rec.Dir == "to_client" {
		from, to = laneBrk, laneWire
	}
	if rec.Rule == "" && !rec.Dropped {
		fmt.Fprintf(b, `<path class="pk" d="M%d %dH%d"/>`, from, y, to)
		// the label sits over the first half of the way
		x := (from + laneFault) / 2
		fmt.Fprintf(b, `<text class="tpk" x="%d" y="%d">%s%s</text>`, x, y-4, title, esc(clip(lbl, 30)))
		return
	}
	arrowNoHead(b, "pk", from, laneFault, y)
	fmt.Fprintf(b, `<text class="tpk" x="%d" y="%d">%s%s</text>`, (from+laneFault)/2, y-4, title, esc(clip(lbl, 28)))
	act := rec.Action
	if act == "" {
		act = "dropped"
	}
	if rec.Rule != "" {
		act += " (rule " + rec.Rule + ")"
	}
	if rec.Dropped {
		fmt.Fprintf(b, `<path class="x" d="M%d %dl8 8m0 -8l-8 8"/>`, laneFault-4, y-4)
	} else {
		fmt.Fprintf(b, `<path class="pf" d="M%d %dH%d"/>`, laneFault, y, to)
	}
	x := (laneFault + to) / 2
	fmt.Fprintf(b, `<text class="nf" x="%d" y="%d">%s</text>`, x, y-4, esc(clip(act, 25)))
}

func arrowNoHead(b *strings.Builder, cls string, x1, x2, y int) {
	fmt.Fprintf(b, `<path class="%s n" d="M%d %dH%d"/>`, cls, x1, y, x2)
}

// nameOf is the scenario's name for an MQTT client id.
func (d *diagram) nameOf(id string) string {
	for name, cid := range d.sf.Clients {
		if cid == id {
			return name
		}
	}
	return id
}

func packetLabel(r *journal.Record) string {
	var b strings.Builder
	b.WriteString(r.Type)
	if r.PacketID != 0 {
		fmt.Fprintf(&b, " id %d", r.PacketID)
	}
	if r.Type == "PUBLISH" {
		fmt.Fprintf(&b, " q%d", r.QoS)
	}
	if r.Dup {
		b.WriteString(" DUP")
	}
	if r.Reason != nil {
		fmt.Fprintf(&b, " rc %d", *r.Reason)
	}
	return b.String()
}

func eventLabel(e *controller.Event) string {
	switch e.Kind {
	case controller.OnPublish:
		return fmt.Sprintf("%s(%d, %d %s)", e.Kind, e.MsgID, e.Reason, e.Message)
	case controller.OnConnect, controller.OnDisconnect:
		return fmt.Sprintf("%s(%d %s)", e.Kind, e.Reason, e.Message)
	case controller.OnSubscribe:
		return fmt.Sprintf("%s(%d, %v)", e.Kind, e.MsgID, e.Granted)
	case controller.OnUnsubscribe:
		return fmt.Sprintf("%s(%d)", e.Kind, e.MsgID)
	case controller.OnMessage:
		return fmt.Sprintf("%s(%s, q%d, %d B)", e.Kind, e.Topic, e.QoS, len(e.Payload))
	case controller.OnLog:
		return fmt.Sprintf("%s(%s)", e.Kind, e.Line)
	}
	return string(e.Kind)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}

func clip(s string, n int) string {
	if n < 4 {
		n = 4
	}
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func esc(s string) string { return html.EscapeString(s) }
