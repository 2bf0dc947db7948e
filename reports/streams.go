package reports

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// defaultTerminalWidth is used when the terminal width cannot be read.
const defaultTerminalWidth = 80

// Streams holds the standard streams of one dbiam run and their terminal
// state. Out carries data only (tables, exports written to stdout); Err
// carries logs, progress, retries and warnings.
//
// The terminal state is decided once, by [System] or [Test], and can be
// overridden with the Set methods before use. Streams also carries the
// run's [Logger] (see [Streams.Logger]) and the --no-progress switch, which
// main.go applies in the app's Before hook.
//
// Streams does not synchronise raw writes: code that writes to Err from
// several goroutines goes through the Logger or a [Progress], which do.
// Logger is safe for concurrent use; the other methods may be called
// concurrently with each other but not with the Set methods, which belong
// to set-up code. Use Streams by pointer.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer

	logMu   sync.Mutex
	log     *Logger
	retries *Retries
	outcome *Outcome

	noProgress bool

	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
	color     bool
	width     int      // fixed terminal width; 0 means ask the terminal
	sizeFile  *os.File // terminal to ask for its width; nil for none
}

// System returns Streams for os.Stdin, os.Stdout and os.Stderr.
//
// stdout and stderr count as terminals when golang.org/x/term says so,
// except that TERM=dumb makes stderr a non-terminal (a dumb terminal cannot
// move the cursor, so progress falls back to plain log lines). Colour is on
// only when stdout is a terminal, NO_COLOR is unset or empty, and TERM is not
// "dumb" (https://no-color.org).
func System() *Streams {
	return systemStreams(os.Getenv, isTerminal)
}

// systemStreams is System with an injectable environment and terminal
// check, for tests.
func systemStreams(getenv func(string) string, isTerminal func(*os.File) bool) *Streams {
	dumb := getenv("TERM") == "dumb"
	outTTY := isTerminal(os.Stdout)
	errTTY := isTerminal(os.Stderr) && !dumb
	s := &Streams{
		In:        os.Stdin,
		Out:       os.Stdout,
		Err:       os.Stderr,
		stdinTTY:  isTerminal(os.Stdin),
		stdoutTTY: outTTY,
		stderrTTY: errTTY,
		color:     outTTY && !dumb && getenv("NO_COLOR") == "",
	}
	switch {
	case outTTY:
		s.sizeFile = os.Stdout
	case errTTY:
		s.sizeFile = os.Stderr
	}
	return s
}

func isTerminal(f *os.File) bool {
	return f != nil && term.IsTerminal(int(f.Fd()))
}

// Test returns Streams backed by buffers, for tests: stdin is empty, stdout
// and stderr are returned. Neither stream is a terminal, colour is off and
// the terminal width is 80 until overridden.
func Test() (s *Streams, stdout, stderr *bytes.Buffer) {
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	s = &Streams{
		In:    &bytes.Buffer{},
		Out:   stdout,
		Err:   stderr,
		width: defaultTerminalWidth,
	}
	return s, stdout, stderr
}

// NewStreams returns Streams over the given reader and writers, none of
// them a terminal: for output that goes to a file or is discarded (a nil
// reader reads nothing, a nil writer discards). Colour is off and the
// terminal width is 80.
func NewStreams(in io.Reader, out, errw io.Writer) *Streams {
	if in == nil {
		in = strings.NewReader("")
	}
	if out == nil {
		out = io.Discard
	}
	if errw == nil {
		errw = io.Discard
	}
	return &Streams{In: in, Out: out, Err: errw, width: defaultTerminalWidth}
}

// IsStdinTTY reports whether stdin is a terminal, so that a command may
// ask the user a question (and must not when it is not).
func (s *Streams) IsStdinTTY() bool { return s.stdinTTY }

// SetStdinTTY overrides whether stdin counts as a terminal (tests).
func (s *Streams) SetStdinTTY(v bool) { s.stdinTTY = v }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *Streams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether stderr is a terminal that can redraw
// progress bars.
func (s *Streams) IsStderrTTY() bool { return s.stderrTTY }

// ColorEnabled reports whether output to stdout may use ANSI colours.
func (s *Streams) ColorEnabled() bool { return s.color }

// SetStdoutTTY overrides whether stdout counts as a terminal.
func (s *Streams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY overrides whether stderr counts as a terminal.
func (s *Streams) SetStderrTTY(v bool) { s.stderrTTY = v }

// SetColorEnabled overrides whether colour is used.
func (s *Streams) SetColorEnabled(v bool) { s.color = v }

// SetTerminalWidth fixes the width reported by TerminalWidth; 0 asks the
// terminal again.
func (s *Streams) SetTerminalWidth(cols int) { s.width = cols }

// TerminalWidth returns the width of the terminal in columns: the fixed
// width if one was set, else the current size of the stdout (or stderr)
// terminal, else 80.
func (s *Streams) TerminalWidth() int {
	if s.width > 0 {
		return s.width
	}
	if s.sizeFile != nil {
		if w, _, err := term.GetSize(int(s.sizeFile.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return defaultTerminalWidth
}

// Logger returns the run's Logger, writing to Err at LevelInfo unless set
// otherwise. It is created on first use and shared by every caller; it is
// safe for concurrent use.
func (s *Streams) Logger() *Logger {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.log == nil {
		s.log = NewLogger(s.Err, LoggerOptions{})
	}
	return s.log
}

// Retries returns the run's retry summary, logging through Logger. It is
// created on first use and shared by every caller; a [Progress] flushes it
// when it closes, so that the counts come before the command's last line.
func (s *Streams) Retries() *Retries {
	log := s.Logger()
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.retries == nil {
		s.retries = NewRetries(log, 0, nil)
	}
	return s.retries
}

// SetLogger replaces the run's Logger, e.g. with one using a fixed clock
// in tests.
func (s *Streams) SetLogger(l *Logger) {
	s.logMu.Lock()
	s.log = l
	s.logMu.Unlock()
}

// SetLogLevel sets the level of the run's Logger (the --log-level flag).
func (s *Streams) SetLogLevel(level Level) { s.Logger().SetLevel(level) }

// SetProgressEnabled turns progress bars off (false: the --no-progress
// flag) or back on. Progress off a terminal is always plain log lines.
func (s *Streams) SetProgressEnabled(v bool) { s.noProgress = !v }

// ProgressEnabled reports whether a [Progress] draws bars: stderr is a
// terminal and --no-progress was not given.
func (s *Streams) ProgressEnabled() bool { return s.stderrTTY && !s.noProgress }
