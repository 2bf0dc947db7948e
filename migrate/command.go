package migrate

import (
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// CommandDeps are what every migrate subcommand needs from outside: the
// streams (with the run's logger and progress switch), a lazy connection
// and a clock. Tests build one with reports.Test, a Connect that opens a
// session on a sandbox, and a fixed clock.
type CommandDeps struct {
	Streams *reports.Streams
	Connect scim.ConnectFunc
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Deps is CommandDeps under the name the Run functions take
// (RunPlan, RunApply, RunStatus, ...).
type Deps = CommandDeps

// now returns d.Now or time.Now.
func (d CommandDeps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

// logger returns the run's logger (nil discards).
func (d CommandDeps) logger() *reports.Logger {
	if d.Streams == nil {
		return nil
	}
	return d.Streams.Logger()
}
