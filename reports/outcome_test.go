package reports

import (
	"testing"
	"time"
)

func TestOutcomeLine(t *testing.T) {
	tests := []struct {
		o    Outcome
		took time.Duration
		want string
	}{
		{Outcome{Command: "export", Did: "4 workspaces: 4 ok", Wrote: []string{"acme.xlsx"}}, 14234 * time.Millisecond,
			"export finished in 14.2s: 4 workspaces: 4 ok; wrote acme.xlsx"},
		{Outcome{Command: "audit", Did: "1 identity", Stdout: true}, 340 * time.Millisecond, "audit finished in 340ms: 1 identity; output on stdout"},
		{Outcome{Command: "migrate plan", Wrote: []string{"plan.json", "plan.html"}}, 2 * time.Minute, "migrate plan finished in 2m0s; wrote plan.json and plan.html"},
		{Outcome{Command: "migrate apply", Did: "dry run", Nothing: true}, time.Second, "migrate apply finished in 1s: dry run; wrote nothing"},
	}
	for _, tt := range tests {
		if got := tt.o.Line(tt.took); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
	s, _, _ := Test()
	if _, ok := s.Outcome(); ok {
		t.Error("an outcome before SetOutcome")
	}
	s.SetOutcome(tests[0].o)
	if o, ok := s.Outcome(); !ok || o.Command != "export" {
		t.Errorf("outcome %+v, %v", o, ok)
	}
}
