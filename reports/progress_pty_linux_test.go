//go:build linux

package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain runs ptyHelper instead of the tests in the child process of
// TestProgressOnARealTerminal.
func TestMain(m *testing.M) {
	if os.Getenv("DBIAM_PTY_HELPER") == "1" {
		ptyHelper()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// ptyHelper draws progress on the process's real stderr, as dbiam does:
// System decides whether it is a terminal and asks it for its width. The
// clock and the redraws are driven by the script, so the output is the
// same on every run.
func ptyHelper() {
	s := System()
	s.SetLogger(NewLogger(s.Err, LoggerOptions{Now: fixedClock}))
	s.Logger().Info("helper", "tty", s.IsStderrTTY(), "width", s.TerminalWidth())
	clock := &fakeClock{t: testNow}
	ticks := make(chan time.Time)
	redraw := func() { ticks <- time.Time{}; ticks <- time.Time{} }
	p := newProgress(s, ProgressOptions{Label: "export", Unit: "identities", TaskUnit: "workspaces", Tasks: 3, Now: clock.Now},
		s.ProgressEnabled(), ticks)
	prod := p.Task("acme-prod", 0)
	prod.ExpectTotals(2) // two lists: their totals come with their first pages
	prod.Add(40)
	clock.Advance(2 * time.Second)
	redraw()
	prod.AddTotal(100)
	prod.AddTotal(100)
	prod.Add(60)
	clock.Advance(8 * time.Second)
	redraw()
	s.Logger().Info("a log line goes above the bars")
	prod.Add(100)
	prod.Done("200 identities")
	redraw()
	p.Close()
}

// openPTY opens a pseudo-terminal pair of cols columns.
func openPTY(t *testing.T, cols uint16) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: cols}); err != nil {
		t.Fatalf("set pty size: %v", err)
	}
	return master, tty
}

// TestProgressOnARealTerminal runs a process whose stdout and stderr are a
// pseudo-terminal 90 columns wide and checks what the terminal shows: bars
// (detected as a terminal, not told), a spinner while the total is not
// known, then the bar with its ETA and the queued workspaces, log lines
// above the bars, no line wider than the terminal, and only the log lines
// once the bars are erased.
func TestProgressOnARealTerminal(t *testing.T) {
	master, tty := openPTY(t, 90)
	defer master.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "DBIAM_PTY_HELPER=1", "TERM=xterm", "NO_COLOR=")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, master)
		done <- err
	}()
	werr := cmd.Wait()
	if err := <-done; err != nil && !errors.Is(err, syscall.EIO) { // EIO: the terminal closed
		t.Fatalf("read pty: %v", err)
	}
	if werr != nil {
		t.Fatalf("helper: %v\n%q", werr, out.String())
	}
	raw := out.String()
	if !strings.Contains(raw, `INFO helper tty=true width=90`) {
		t.Fatalf("the helper did not see a 90-column terminal:\n%q", raw)
	}
	// Frames, in the order drawn.
	spinner := strings.Index(raw, " 40 identities 2s")
	bar := strings.Index(raw, "] 100/200 identities 10s ETA 10s")
	if spinner < 0 || bar < spinner {
		t.Errorf("want a spinner with the count before the total is known, then the bar with its ETA:\n%q", raw)
	}
	if !strings.ContainsAny(raw[max(spinner-40, 0):max(spinner, 0)], strings.Join(spinnerFrames, "")) {
		t.Errorf("no spinner frame before the count: %q", raw[max(spinner-40, 0):max(spinner, 0)])
	}
	for _, want := range []string{"0/3 workspaces, 1 running, 2 queued 2s", "0/3 workspaces, 1 running, 2 queued 10s ETA 50s"} {
		if !strings.Contains(raw, want) {
			t.Errorf("the total line never read %q:\n%q", want, raw)
		}
	}
	for _, line := range strings.Split(raw, "\r\n") {
		if i := strings.LastIndex(line, "\x1b[J"); i >= 0 {
			line = line[i+len("\x1b[J"):]
		}
		if !strings.HasPrefix(line, "2026-") && displayWidth(line) > 89 { // log lines may wrap, bars never
			t.Errorf("a bar line is %d columns wide on a 90-column terminal: %q", displayWidth(line), line)
		}
	}
	if !strings.Contains(raw, "   0% [......") {
		t.Errorf("the total bar is not drawn at 0%%:\n%q", raw)
	}
	sc := replay(t, raw)
	want := "2026-11-24T21:14:33Z INFO helper tty=true width=90\n" +
		"2026-11-24T21:14:33Z INFO a log line goes above the bars\n" +
		"2026-11-24T21:14:33Z INFO export done task=\"acme-prod\" identities=200 took=10s summary=\"200 identities\"\n"
	if got := sc.text(); got != want {
		t.Errorf("the terminal at the end:\n%s\nwant only the log lines:\n%s", got, want)
	}
}
