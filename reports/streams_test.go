package reports

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

func TestTestStreams(t *testing.T) {
	s, out, errb := Test()
	if s.IsStdoutTTY() || s.IsStderrTTY() || s.ColorEnabled() {
		t.Error("Test streams must start as non-terminals without colour")
	}
	if s.TerminalWidth() != 80 {
		t.Errorf("width = %d, want 80", s.TerminalWidth())
	}
	s.SetStdoutTTY(true)
	s.SetStderrTTY(true)
	s.SetColorEnabled(true)
	s.SetTerminalWidth(120)
	if !s.IsStdoutTTY() || !s.IsStderrTTY() || !s.ColorEnabled() || s.TerminalWidth() != 120 {
		t.Error("overrides not applied")
	}
	_, _ = s.Out.Write([]byte("data"))
	_, _ = s.Err.Write([]byte("log"))
	if out.String() != "data" || errb.String() != "log" {
		t.Errorf("out=%q err=%q", out, errb)
	}
}

func TestSystemStreamsEnv(t *testing.T) {
	tests := []struct {
		name             string
		env              map[string]string
		terminals        bool
		wantOut, wantErr bool
		wantColor        bool
	}{
		{"terminal", map[string]string{"TERM": "xterm-256color"}, true, true, true, true},
		{"NO_COLOR", map[string]string{"NO_COLOR": "1"}, true, true, true, false},
		{"TERM=dumb", map[string]string{"TERM": "dumb"}, true, true, false, false},
		{"pipes", nil, false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := systemStreams(func(k string) string { return tt.env[k] }, func(*os.File) bool { return tt.terminals })
			if s.IsStdoutTTY() != tt.wantOut || s.IsStderrTTY() != tt.wantErr || s.ColorEnabled() != tt.wantColor {
				t.Errorf("stdoutTTY=%v stderrTTY=%v color=%v, want %v %v %v",
					s.IsStdoutTTY(), s.IsStderrTTY(), s.ColorEnabled(), tt.wantOut, tt.wantErr, tt.wantColor)
			}
			if s.In != os.Stdin || s.Out != os.Stdout || s.Err != os.Stderr {
				t.Error("System must use the os streams")
			}
			if s.IsStdinTTY() != tt.terminals {
				t.Errorf("stdinTTY=%v, want %v (TERM=dumb does not change it)", s.IsStdinTTY(), tt.terminals)
			}
		})
	}
	var zero Streams
	if zero.TerminalWidth() != 80 {
		t.Errorf("zero Streams width = %d, want 80", zero.TerminalWidth())
	}
}

func TestStreamsLoggerAndProgressSwitch(t *testing.T) {
	s, out, errb := Test()
	log := s.Logger()
	if log != s.Logger() {
		t.Fatal("Logger must return the same logger")
	}
	derived := log.With("workspace", 1)
	log.Debug("hidden")
	s.SetLogLevel(LevelDebug) // the --log-level flag, applied after loggers were derived
	derived.Debug("shown")
	if out.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", out)
	}
	if got := errb.String(); strings.Contains(got, "hidden") || !strings.Contains(got, " DEBUG shown workspace=1\n") {
		t.Errorf("stderr = %q", got)
	}

	if s.ProgressEnabled() {
		t.Error("progress enabled off a terminal")
	}
	s.SetStderrTTY(true)
	if !s.ProgressEnabled() {
		t.Error("progress disabled on a terminal")
	}
	s.SetProgressEnabled(false) // --no-progress
	if s.ProgressEnabled() {
		t.Error("--no-progress ignored")
	}

	var buf strings.Builder
	s.SetLogger(NewLogger(&buf, LoggerOptions{Now: fixedClock}))
	s.Logger().Info("x")
	if buf.String() != "2026-11-24T21:14:33Z INFO x\n" {
		t.Errorf("SetLogger: got %q", buf.String())
	}
}

func TestNewStreams(t *testing.T) {
	var out bytes.Buffer
	s := NewStreams(nil, &out, nil)
	if s.IsStdoutTTY() || s.IsStderrTTY() || s.ProgressEnabled() {
		t.Error("NewStreams should never be a terminal")
	}
	fmt.Fprint(s.Out, "data")
	s.Logger().Info("discarded")
	if out.String() != "data" {
		t.Errorf("Out = %q, want only the data written to it", out.String())
	}
	if b, err := io.ReadAll(s.In); err != nil || len(b) != 0 {
		t.Errorf("In = %q, %v; want empty", b, err)
	}
}
