package journal

import (
	"fmt"
	"strings"
)

// Filter selects records. Zero fields match anything.
type Filter struct {
	Kind     string `json:"kind,omitempty"`
	Client   string `json:"client,omitempty"`
	Conn     uint64 `json:"conn,omitempty"`
	Dir      string `json:"dir,omitempty"`
	Type     string `json:"type,omitempty"` // packet type name, any case
	Topic    string `json:"topic,omitempty"`
	PacketID int    `json:"packet_id,omitempty"`
	// AfterSeq keeps only records added after the one with this number.
	AfterSeq uint64 `json:"after_seq,omitempty"`
	// Dropped: "" matches both; "yes" only dropped; "no" only delivered.
	Dropped string `json:"dropped,omitempty"`
}

// Match reports whether r passes the filter.
func (f Filter) Match(r Record) bool {
	switch {
	case f.Kind != "" && r.Kind != f.Kind,
		f.Client != "" && r.Client != f.Client,
		f.Conn != 0 && r.Conn != f.Conn,
		f.Dir != "" && r.Dir != f.Dir,
		f.Type != "" && !strings.EqualFold(r.Type, f.Type),
		f.Topic != "" && r.Topic != f.Topic,
		f.PacketID != 0 && r.PacketID != f.PacketID,
		f.AfterSeq != 0 && r.Seq <= f.AfterSeq,
		f.Dropped == "yes" && !r.Dropped,
		f.Dropped == "no" && r.Dropped:
		return false
	}
	return true
}

func (f Filter) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("kind", f.Kind)
	add("client", f.Client)
	if f.Conn != 0 {
		add("conn", fmt.Sprint(f.Conn))
	}
	add("dir", f.Dir)
	add("type", f.Type)
	add("topic", f.Topic)
	if f.PacketID != 0 {
		add("packet_id", fmt.Sprint(f.PacketID))
	}
	if f.AfterSeq != 0 {
		add("after_seq", fmt.Sprint(f.AfterSeq))
	}
	add("dropped", f.Dropped)
	if len(parts) == 0 {
		return "{any}"
	}
	return "{" + strings.Join(parts, " ") + "}"
}
