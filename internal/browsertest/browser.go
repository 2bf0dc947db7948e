// Package browsertest drives a headless Chromium from tests, so that the
// HTML reports are checked in a real browser: layout at a given width,
// computed styles, and real key presses (Tab, Enter, Space, arrows) rather
// than synthetic events that a page's buttons ignore.
//
// It speaks the Chrome DevTools Protocol over --remote-debugging-pipe (JSON
// messages separated by NUL bytes on file descriptors 3 and 4), so it needs
// no module beyond the standard library and no network port. Start skips
// the test when no Chromium is installed, unless DBIAM_REQUIRE_BROWSER is
// set (CI sets it after installing Debian's chromium), in which case it
// fails. It is used by tests only.
package browsertest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// timeout bounds every call to the browser.
const timeout = 30 * time.Second

// Browser is a running headless Chromium. It is not safe for concurrent
// use.
type Browser struct {
	t    testing.TB
	cmd  *exec.Cmd
	in   *os.File // the browser reads commands here (its fd 3)
	msgs chan map[string]any
	errs chan error
	next int
	// pending holds events that arrived while waiting for a reply.
	pending []map[string]any
	once    sync.Once
}

// Binary returns the path of an installed Chromium, or "".
func Binary() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Start launches a headless Chromium for the test and stops it when the
// test ends. Without a Chromium it skips the test, naming what to
// install, or fails when DBIAM_REQUIRE_BROWSER is set.
func Start(t testing.TB) *Browser {
	t.Helper()
	bin := Binary()
	if bin == "" {
		const msg = "no headless Chromium on PATH: install Debian's chromium (apt-get install chromium) to run this browser test; .ci/run does"
		if os.Getenv("DBIAM_REQUIRE_BROWSER") != "" {
			t.Fatal(msg + " (DBIAM_REQUIRE_BROWSER is set)")
		}
		t.Skip(msg)
	}
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The flags of a closed network: no background connections, no
	// first-run work, a fresh profile.
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--hide-scrollbars", "--remote-debugging-pipe", "--user-data-dir="+filepath.Join(dir, "profile"), "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, outW} // fds 3 and 4
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	cmdR.Close()
	outW.Close()
	b := &Browser{t: t, cmd: cmd, in: cmdW, msgs: make(chan map[string]any, 64), errs: make(chan error, 1)}
	go b.read(bufio.NewReader(outR))
	t.Cleanup(b.close)
	return b
}

func (b *Browser) read(r *bufio.Reader) {
	for {
		raw, err := r.ReadBytes(0)
		if err != nil {
			b.errs <- fmt.Errorf("browser pipe: %w", err)
			close(b.msgs)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(raw[:len(raw)-1], &m); err != nil {
			b.errs <- fmt.Errorf("browser message %q: %w", raw, err)
			close(b.msgs)
			return
		}
		b.msgs <- m
	}
}

func (b *Browser) close() {
	b.once.Do(func() {
		b.in.Close()
		done := make(chan struct{})
		go func() { _ = b.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = b.cmd.Process.Kill()
			<-done
		}
	})
}

// call sends one command (to session, "" for the browser) and returns its
// result.
func (b *Browser) call(session, method string, params map[string]any) (map[string]any, error) {
	b.next++
	id := b.next
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	raw, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := b.in.Write(append(raw, 0)); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-b.msgs:
			if !ok {
				return nil, <-b.errs
			}
			if got, _ := m["id"].(float64); int(got) == id {
				if e, ok := m["error"].(map[string]any); ok {
					return nil, fmt.Errorf("%s: %v", method, e["message"])
				}
				res, _ := m["result"].(map[string]any)
				return res, nil
			}
			if _, ok := m["method"]; ok {
				b.pending = append(b.pending, m)
			}
		case <-deadline:
			return nil, fmt.Errorf("%s: no reply in %v", method, timeout)
		}
	}
}

// wait returns the first event named method for session, past or future.
func (b *Browser) wait(session, method string) error {
	for i, m := range b.pending {
		if m["method"] == method && m["sessionId"] == session {
			b.pending = append(b.pending[:i], b.pending[i+1:]...)
			return nil
		}
	}
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-b.msgs:
			if !ok {
				return <-b.errs
			}
			if m["method"] == method && m["sessionId"] == session {
				return nil
			}
			if _, ok := m["method"]; ok {
				b.pending = append(b.pending, m)
			}
		case <-deadline:
			return fmt.Errorf("no %s in %v", method, timeout)
		}
	}
}

// Page is a browser tab showing one page.
type Page struct {
	b       *Browser
	session string
}

// Open loads url in a new tab whose viewport is width × height CSS pixels
// (mobile emulation below 700 pixels, as a phone would show it).
func (b *Browser) Open(url string, width, height int) *Page {
	b.t.Helper()
	res, err := b.call("", "Target.createTarget", map[string]any{"url": "about:blank"})
	if err != nil {
		b.t.Fatal(err)
	}
	res, err = b.call("", "Target.attachToTarget", map[string]any{"targetId": res["targetId"], "flatten": true})
	if err != nil {
		b.t.Fatal(err)
	}
	p := &Page{b: b, session: res["sessionId"].(string)}
	p.must("Page.enable", nil)
	p.must("Runtime.enable", nil)
	p.must("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 700})
	p.must("Page.navigate", map[string]any{"url": url})
	if err := b.wait(p.session, "Page.loadEventFired"); err != nil {
		b.t.Fatal(err)
	}
	return p
}

func (p *Page) must(method string, params map[string]any) map[string]any {
	p.b.t.Helper()
	res, err := p.b.call(p.session, method, params)
	if err != nil {
		p.b.t.Fatal(err)
	}
	return res
}

// Eval evaluates a JavaScript expression in the page and returns its value
// decoded from JSON (numbers are float64). A thrown exception fails the
// test.
func (p *Page) Eval(expr string) any {
	p.b.t.Helper()
	res := p.must("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	if ex, ok := res["exceptionDetails"].(map[string]any); ok {
		p.b.t.Fatalf("javascript %q: %v", expr, describe(ex))
	}
	r, _ := res["result"].(map[string]any)
	return r["value"]
}

// String evaluates expr as a string.
func (p *Page) String(expr string) string {
	p.b.t.Helper()
	s, _ := p.Eval(expr).(string)
	return s
}

// Number evaluates expr as a number.
func (p *Page) Number(expr string) float64 {
	p.b.t.Helper()
	f, ok := p.Eval(expr).(float64)
	if !ok {
		p.b.t.Fatalf("javascript %q is not a number", expr)
	}
	return f
}

func describe(ex map[string]any) string {
	if e, ok := ex["exception"].(map[string]any); ok {
		if d, ok := e["description"].(string); ok {
			return d
		}
	}
	return fmt.Sprint(ex["text"])
}

// keys maps the key names Press takes to their DOM key, code, Windows
// virtual key code and the text a key down types.
var keys = map[string]struct {
	key, code, text string
	vk              int
}{
	"Tab":       {"Tab", "Tab", "", 9},
	"Enter":     {"Enter", "Enter", "\r", 13},
	"Space":     {" ", "Space", " ", 32},
	"ArrowDown": {"ArrowDown", "ArrowDown", "", 40},
	"ArrowUp":   {"ArrowUp", "ArrowUp", "", 38},
	"Escape":    {"Escape", "Escape", "", 27},
}

// Press presses and releases a key ("Tab", "Enter", "Space", "ArrowDown",
// "ArrowUp", "Escape") as the keyboard would, with shift held if shift is
// set.
func (p *Page) Press(name string, shift bool) {
	p.b.t.Helper()
	k, ok := keys[name]
	if !ok {
		p.b.t.Fatalf("unknown key %q", name)
	}
	mods := 0
	if shift {
		mods = 8
	}
	down := map[string]any{"type": "keyDown", "key": k.key, "code": k.code, "windowsVirtualKeyCode": k.vk, "nativeVirtualKeyCode": k.vk, "modifiers": mods}
	if k.text != "" {
		down["text"] = k.text
		down["unmodifiedText"] = k.text
	}
	p.must("Input.dispatchKeyEvent", down)
	p.must("Input.dispatchKeyEvent", map[string]any{"type": "keyUp", "key": k.key, "code": k.code, "windowsVirtualKeyCode": k.vk, "nativeVirtualKeyCode": k.vk, "modifiers": mods})
}

// Type types text into the focused element.
func (p *Page) Type(text string) {
	p.b.t.Helper()
	p.must("Input.insertText", map[string]any{"text": text})
}

// Exceptions returns the uncaught JavaScript exceptions the page has
// thrown so far (events received while waiting for replies).
func (p *Page) Exceptions() []string {
	var out []string
	for _, m := range p.b.pending {
		if m["method"] == "Runtime.exceptionThrown" && m["sessionId"] == p.session {
			params, _ := m["params"].(map[string]any)
			ex, _ := params["exceptionDetails"].(map[string]any)
			out = append(out, describe(ex))
		}
	}
	return out
}
