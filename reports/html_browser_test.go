package reports

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// browserHarness is appended to a rendered report: it drives the filters,
// the search box and the sort, and writes what it saw into <pre id=result>.
const browserHarness = `<script>
(function () {
  var out = [];
  function visible() {
    return Array.prototype.filter.call(document.querySelectorAll("#main-table tbody tr"), function (r) { return !r.hidden; }).length;
  }
  var sev = document.querySelector('#filters select[data-col="0"]');
  sev.value = "breaks"; sev.dispatchEvent(new Event("change"));
  out.push("breaks=" + visible() + "/" + document.getElementById("shown").textContent);
  var q = document.getElementById("q");
  q.value = "ETL"; q.dispatchEvent(new Event("input"));
  out.push("breaks+etl=" + visible());
  document.getElementById("clear").click();
  out.push("clear=" + visible());
  var th = document.querySelectorAll("#main-table thead th")[0];
  th.click();
  out.push("asc=" + document.querySelector("#main-table tbody tr td").textContent.trim());
  th.click();
  out.push("desc=" + document.querySelector("#main-table tbody tr td").textContent.trim());
  var pre = document.createElement("pre"); pre.id = "result"; pre.textContent = out.join(" ");
  document.body.appendChild(pre);
}());
</script></body>`

// TestWriteHTMLInBrowser opens a report in headless Chromium, when one is
// installed, and checks that the page's script runs without errors and
// that filtering, search and sorting work.
func TestWriteHTMLInBrowser(t *testing.T) {
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("no headless Chromium on PATH")
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, sampleHTMLReport()); err != nil {
		t.Fatal(err)
	}
	page := strings.Replace(buf.String(), "</body>", browserHarness, 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := os.WriteFile(path, []byte(page), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--enable-logging=stderr", "--v=0", "--dump-dom", "file://"+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") {
			t.Errorf("browser console: %s", line)
		}
	}
	m := regexp.MustCompile(`<pre id="result">([^<]*)</pre>`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("harness did not run; DOM:\n%s", stdout.String())
	}
	want := "breaks=2/2 of 3 rows breaks+etl=1 clear=3 asc=breaks desc=info"
	if m[1] != want {
		t.Errorf("browser behaviour = %q, want %q", m[1], want)
	}
}
