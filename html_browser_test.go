package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbiam/dbiam/internal/browsertest"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// TestHTMLReportsInBrowser writes every HTML report dbiam makes of the
// demo account (audit of one identity, audit --all, migrate plan, diff)
// and uses each in headless Chromium as a person would: at a phone's
// width (400 px) nothing scrolls sideways and the chart's labels are
// readable; headings are words; on a desktop the table header stays in
// view while the rows scroll; the relation filter offers single
// relations; Tab reaches the sort buttons, whose focus is visible, and
// Enter and Space sort with the state in aria-sort; the script throws
// nothing.
func TestHTMLReportsInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	dir := t.TempDir()
	type report struct {
		name     string
		path     string
		chart    bool // has a chart
		relation bool // has a relation filter
	}
	var pages []report
	audit := filepath.Join(dir, "impact.html")
	if code, _, errOut := runCLI(t, "--sandbox", "--no-progress", "audit", "--user", "elena.patel@acme.test", "--format", "html", "--out", audit); code != 0 {
		t.Fatalf("audit: exit %d\n%s", code, errOut)
	}
	pages = append(pages, report{"audit --user", audit, true, true})
	all := filepath.Join(dir, "all.html")
	if code, _, errOut := runCLI(t, "--sandbox", "--no-progress", "audit", "--all", "-o", "html", "--out", all); code != 0 {
		t.Fatalf("audit --all: exit %d\n%s", code, errOut)
	}
	pages = append(pages, report{"audit --all", all, true, true})
	plan := filepath.Join(dir, "plan.html")
	if code, _, errOut := runCLI(t, "--sandbox", "--no-progress", "migrate", "plan", "--out", filepath.Join(dir, "plan.json"), "--report", "html", "--report-out", plan); code != exitPartial {
		t.Fatalf("plan: exit %d, want 2 (the demo account has conflicts)\n%s", code, errOut)
	}
	pages = append(pages, report{"migrate plan", plan, true, false})
	pages = append(pages, report{"diff", diffHTML(t, dir), false, false})

	for _, r := range pages {
		t.Run(r.name, func(t *testing.T) {
			p := b.Open("file://"+r.path, 400, 800)
			if sw, cw := p.Number("document.documentElement.scrollWidth"), p.Number("document.documentElement.clientWidth"); sw > cw {
				t.Errorf("scrolls sideways at 400 px: %v wide in %v", sw, cw)
			}
			if wide := p.String(`Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5 && !e.closest(".sr")).map(e => e.tagName + "." + e.className).slice(0, 5).join(" ")`); wide != "" {
				t.Errorf("elements reach past the right edge at 400 px: %s", wide)
			}
			if n := p.Number(`document.querySelectorAll(".clabel").length`); r.chart && n == 0 {
				t.Error("no chart")
			}
			if small := p.Number(`Array.from(document.querySelectorAll(".clabel, .ctotal")).filter(e => parseFloat(getComputedStyle(e).fontSize) < 12 || e.getBoundingClientRect().height < 12).length`); small != 0 {
				t.Errorf("%v chart labels smaller than 12 px", small)
			}
			if h := p.String(`Array.from(document.querySelectorAll("th, .filters label, td[data-label]")).map(e => e.getAttribute("data-label") || e.textContent).filter(s => s.includes("_")).slice(0, 3).join(" | ")`); h != "" {
				t.Errorf("snake_case headings: %s", h)
			}

			p = b.Open("file://"+r.path, 1280, 900)
			if sw, cw := p.Number("document.documentElement.scrollWidth"), p.Number("document.documentElement.clientWidth"); sw > cw {
				t.Errorf("scrolls sideways at 1280 px: %v wide in %v", sw, cw)
			}
			// The header stays in view while the rows scroll: scroll to
			// the middle of the main table (audit --all's must be taller
			// than the window).
			rows := p.Number(`document.querySelectorAll("#main-table tbody tr").length`)
			tall := p.Number(`document.querySelector("#main-table tbody").getBoundingClientRect().height`) > p.Number(`window.innerHeight`)
			if r.name == "audit --all" && !tall {
				t.Fatalf("the findings (%v rows) fit the window; the test needs them to scroll", rows)
			}
			if tall {
				p.Eval(`(b => window.scrollTo(0, b.top + window.scrollY + b.height / 2))(document.querySelector("#main-table tbody").getBoundingClientRect())`)
				top := p.Number(`document.querySelector("#main-table thead th").getBoundingClientRect().top`)
				under := p.Number(`Array.from(document.querySelectorAll("#main-table tbody tr")).filter(r => { const b = r.getBoundingClientRect(); return b.bottom > 0 && b.top < 200 }).length`)
				if top < -1 || top > 1 || under == 0 {
					t.Errorf("scrolled into the rows: the header is at %v px (want 0, stuck to the top), %v rows near it", top, under)
				}
				p.Eval(`window.scrollTo(0, 0)`)
			}

			if r.relation {
				opts := p.String(`Array.from(document.querySelectorAll("#filters select")).filter(s => s.closest("label").textContent.trim().startsWith("Relation")).flatMap(s => Array.from(s.options).map(o => o.textContent)).join(",")`)
				if opts == "" || strings.ContainsAny(opts, "+;") || strings.Contains(opts, ", ") {
					t.Errorf("relation filter options %q, want single relations", opts)
				}
				for _, rel := range []string{"created", "owns", "runs-as", "sole-manager"} {
					if !strings.Contains(","+opts+",", ","+rel+",") {
						t.Errorf("relation filter options %q lack %s", opts, rel)
					}
				}
			}

			// Tab from the top of the page to the first sort button: its
			// focus is visible, Enter sorts ascending, Space descending.
			p.Eval(`document.activeElement && document.activeElement.blur(), true`)
			found := false
			for range 300 {
				p.Press("Tab", false)
				if p.String(`document.activeElement.matches("#main-table th button") ? "sort" : ""`) == "sort" {
					found = true
					break
				}
			}
			if !found {
				t.Fatal("Tab never reached a sort button of the main table")
			}
			if o := p.String(`(s => s.outlineStyle + " " + s.outlineWidth)(getComputedStyle(document.activeElement))`); o != "solid 3px" {
				t.Errorf("focused sort button outline %q, want a visible one (solid 3px)", o)
			}
			p.Press("Enter", false)
			if s := p.String(`document.activeElement.closest("th").getAttribute("aria-sort")`); s != "ascending" {
				t.Errorf("Enter on the first sort button: aria-sort %q, want ascending", s)
			}
			p.Press("Space", false)
			if s := p.String(`document.activeElement.closest("th").getAttribute("aria-sort")`); s != "descending" {
				t.Errorf("Space on the sort button: aria-sort %q, want descending", s)
			}
			// The search and a filter from the keyboard, with a visible
			// focus: Tab to the first filter, one arrow down.
			p.Eval(`document.activeElement.blur(), true`)
			reached := map[string]string{}
			for range 300 {
				p.Press("Tab", false)
				el := p.String(`document.activeElement.id === "q" ? "search" : document.activeElement.matches("#filters select") ? "filter" : ""`)
				if el != "" && reached[el] == "" {
					reached[el] = p.String(`(s => s.outlineStyle + " " + s.outlineWidth)(getComputedStyle(document.activeElement))`)
				}
				if el == "filter" {
					break
				}
			}
			for _, el := range []string{"search", "filter"} {
				if o := reached[el]; o == "" || strings.HasPrefix(o, "none") || strings.HasSuffix(o, " 0px") || strings.HasSuffix(o, " 1px") {
					t.Errorf("the %s reached with Tab: outline %q, want a visible one", el, o)
				}
			}
			p.Press("ArrowDown", false)
			shown := p.Number(`Array.from(document.querySelectorAll("#main-table tbody tr")).filter(r => !r.hidden).length`)
			if shown == 0 || shown >= rows {
				t.Errorf("after choosing the first filter's first value: %v of %v rows shown", shown, rows)
			}
			if ex := p.Exceptions(); len(ex) > 0 {
				t.Errorf("script errors: %v", ex)
			}
		})
	}
}

// diffHTML writes the HTML diff of two exports of a sandbox, between which
// a user was deactivated and two admins changed, and returns its path.
func diffHTML(t *testing.T, dir string) string {
	t.Helper()
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	host := []string{"--host", srv.URL(), "--account-id", srv.AccountID(), "--no-progress"}
	export := func(name string) string {
		t.Helper()
		hermetic(t)
		t.Setenv("DATABRICKS_TOKEN", srv.AdminToken())
		out := filepath.Join(dir, name)
		io, _, errb := reports.Test()
		if code := run(context.Background(), append(append([]string{"dbiam"}, host...), "export", "-o", "csv", "--out", out), io); code != 0 {
			t.Fatalf("export: exit %d\n%s", code, errb)
		}
		return out
	}
	old := export("old")
	ctx := context.Background()
	sess, err := scim.Connect(ctx, scim.Settings{Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(), Hermetic: true,
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := sess.Workspaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := sess.Workspace(ws[0])
	if err != nil {
		t.Fatal(err)
	}
	// Elena leaves and takes her groups' memberships with her: enough
	// rows to scroll.
	if err := prod.Users.Patch(ctx, "1100000000000005", scim.SetActive(false)); err != nil {
		t.Fatal(err)
	}
	if err := prod.Groups.Patch(ctx, "1400000000000001", scim.AddMembers("1100000000000041")); err != nil {
		t.Fatal(err)
	}
	if err := prod.Groups.Delete(ctx, "1400000000000007"); err != nil {
		t.Fatal(err)
	}
	newer := export("new")
	html := filepath.Join(dir, "diff.html")
	if code, _, errOut := runCLI(t, "diff", old, newer, "-o", "html", "--out", html); code != 3 {
		t.Fatalf("diff: exit %d, want 3 (differences)\n%s", code, errOut)
	}
	return html
}
