package reports

import (
	"strings"
	"time"
)

// Outcome is what a command did, for the line that ends its run (main.go
// prints it on stderr with the time the command took):
//
//	dbiam: audit finished in 3.4s: 1 identity, 4 workspaces, 17 findings (3 breaks); wrote impact.html
//
// A command sets it once its work is over, also when it failed in part
// (exit code 2), never when it failed before doing anything.
type Outcome struct {
	// Command names the command, e.g. "export", "migrate apply".
	Command string
	// Did says what was done, in a few words; "" says nothing more than
	// "finished".
	Did string
	// Wrote lists the files and directories written, in order.
	Wrote []string
	// Stdout is set when the output went to stdout.
	Stdout bool
	// Nothing is set when nothing was written (a dry run).
	Nothing bool
}

// Line is the outcome's line without the "dbiam: " prefix.
func (o Outcome) Line(took time.Duration) string {
	var b strings.Builder
	b.WriteString(o.Command)
	b.WriteString(" finished in ")
	b.WriteString(roundDuration(took).String())
	if o.Did != "" {
		b.WriteString(": " + o.Did)
	}
	var where []string
	if len(o.Wrote) > 0 {
		where = append(where, "wrote "+strings.Join(o.Wrote, " and "))
	}
	if o.Stdout {
		where = append(where, "output on stdout")
	}
	if o.Nothing && len(where) == 0 {
		where = append(where, "wrote nothing")
	}
	if len(where) > 0 {
		b.WriteString("; " + strings.Join(where, "; "))
	}
	return b.String()
}

// SetOutcome records what the command did (see Outcome); the last call
// counts. It is safe for concurrent use.
func (s *Streams) SetOutcome(o Outcome) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.outcome = &o
}

// Outcome returns what SetOutcome recorded, if anything.
func (s *Streams) Outcome() (Outcome, bool) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.outcome == nil {
		return Outcome{}, false
	}
	return *s.outcome, true
}
