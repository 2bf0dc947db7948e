package diff

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dbiam/dbiam/reports"
)

// TestTableNeverCutsDetail: on a terminal, the DETAIL column (how a
// membership is held, what changed from what, why a workspace was not
// compared) is never cut: it is wrapped under its row when it does not
// fit, and no line is wider than the terminal.
func TestTableNeverCutsDetail(t *testing.T) {
	r := &Report{
		Changes: []Change{{WorkspaceName: "acme-prod", Category: "membership", Change: ChangeAdded, PrincipalKind: "user",
			Principal: "carlos.zimmermann@acme.test", Subject: "Finance Reporting",
			Detail: "transitive via analysts-emea (account group) via analysts-all (workspace group)"}},
		NotCompared: []NotCompared{{WorkspaceName: "acme-ml", Table: "memberships",
			Reason: "the new export failed to read this workspace (403 PERMISSION_DENIED): compare again with a complete export"}},
	}
	for _, width := range []int{80, 120, 160} {
		s, out, _ := reports.Test()
		s.SetStdoutTTY(true)
		s.SetTerminalWidth(width)
		if err := writeTable(r, s); err != nil {
			t.Fatal(err)
		}
		flat := strings.Join(strings.Fields(out.String()), " ")
		for _, want := range []string{r.Changes[0].Detail, r.NotCompared[0].Reason} {
			if !strings.Contains(flat, want) {
				t.Errorf("%d columns: detail %q is cut:\n%s", width, want, out)
			}
		}
		for _, l := range strings.Split(out.String(), "\n") {
			if utf8.RuneCountInString(l) > width {
				t.Errorf("%d columns: a line of %d: %q", width, utf8.RuneCountInString(l), l)
			}
		}
	}
}
