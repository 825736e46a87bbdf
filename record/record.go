// Package record is what a scenario run leaves behind: the scenario record
// with its calls, callbacks and wire journal, and the outcomes a scenario
// can end with. The step library writes records and the reports read them;
// keeping the vocabulary here lets neither depend on the other.
package record

import (
	"fmt"
	"time"

	"github.com/mqtthil/mqtthil/controller"
	"github.com/mqtthil/mqtthil/emulator/journal"
)

// Outcomes a scenario can end with, as Scenario.Status holds them. They are
// kept apart on purpose: a failed scenario is the controller breaking a
// promise; an error is the harness or the bench breaking; a time-out is a
// wait that ran out.
const (
	Passed   = "passed"
	Failed   = "failed"
	Error    = "error"
	TimedOut = "timed out"
	Skipped  = "skipped"
	// Diverged: a controller other than the model did what the list of
	// kept divergences (difftest/divergences.yaml) says it does.
	Diverged = "expected divergence"
)

// Scenario is what a scenario leaves behind, for reports: the wire
// journal, every call and its return, every callback.
type Scenario struct {
	Name string   `json:"name"`
	URI  string   `json:"uri"`
	Tags []string `json:"tags,omitempty"`
	// Status is the outcome: Passed, Failed (the controller broke a
	// promise), Error (the harness or the bench broke), TimedOut (the
	// scenario ran past its limit), Skipped.
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Steps are the scenario's steps with their lines and statuses.
	Steps []StepRef `json:"steps,omitempty"`
	// FailedStep is where the scenario failed, when a step did.
	FailedStep *StepRef            `json:"failed_step,omitempty"`
	Skipped    string              `json:"skipped,omitempty"` // why
	Seed       int64               `json:"seed"`
	Identity   controller.Identity `json:"identity"`
	Started    time.Time           `json:"started"`
	Ended      time.Time           `json:"ended"`
	Calls      []Call              `json:"calls"`
	Events     []controller.Event  `json:"events"`
	// Clients maps the scenario's client names (as Calls name them) to
	// their MQTT client ids (as Events and the journal name them).
	Clients map[string]string `json:"clients,omitempty"`
	// Observer is what the observer on the control listener received, if
	// the scenario used one.
	Observer []controller.Event `json:"observer,omitempty"`
	// Faults is every fault rule the scenario armed and how often each
	// fired, in the order they were armed.
	Faults []FaultRule `json:"faults,omitempty"`
	// Journal is the broker's wire journal; nil when no broker was started.
	Journal *journal.Journal `json:"-"`
}

// Outcome sorts the record's status into one of the outcomes: a status
// this package does not know counts as Failed.
func (s *Scenario) Outcome() string {
	switch s.Status {
	case Passed, Skipped, Error, TimedOut, Diverged:
		return s.Status
	}
	return Failed
}

// Call is one call on a client object and what it returned.
type Call struct {
	At     time.Time      `json:"at"`
	Client string         `json:"client"`
	Call   string         `json:"call"`
	Args   string         `json:"args,omitempty"`
	Ret    controller.Ret `json:"ret"`
}

// String names the call as failure messages quote it.
func (c *Call) String() string {
	s := fmt.Sprintf("%s of client %q", c.Call, c.Client)
	if c.Args != "" {
		s = fmt.Sprintf("%s(%s) of client %q", c.Call, c.Args, c.Client)
	}
	return s
}

// FaultRule is one fault rule a scenario armed and what became of it.
type FaultRule struct {
	Name  string `json:"name"`
	Match string `json:"match"`          // the packets it aims at, as written
	From  string `json:"from,omitempty"` // the step or plan file that armed it
	Fired int    `json:"fired"`
	// Optional rules may end the scenario without firing: a step that says
	// "if it comes", or a rule from a plan file.
	Optional bool `json:"optional,omitempty"`
}

// StepRef points at a step in a feature file.
type StepRef struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Text   string `json:"text"`
	Status string `json:"status"`
}

func (s StepRef) String() string { return fmt.Sprintf("%s:%d: %s", s.File, s.Line, s.Text) }
