package reports

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var printCols = []Column{
	{Name: "workspace"},
	{Name: "users", Type: TypeInt},
	{Name: "active", Type: TypeBool},
	{Name: "last_seen", Type: TypeTime},
}

func printTable(t *testing.T, s *Streams) {
	t.Helper()
	tp := NewTablePrinter(s)
	tp.Now = fixedClock
	tp.SetColumns(printCols...)
	rows := [][]any{
		{"prod", 1500, true, testNow.Add(-3 * 24 * time.Hour)},
		{"dev\tsandbox", 7, false, time.Time{}},
		{"analytics-eu", 42, true, testNow.Add(-90 * time.Minute)},
	}
	for _, r := range rows {
		if err := tp.AddRow(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := tp.Render(); err != nil {
		t.Fatal(err)
	}
}

func TestTablePrinter(t *testing.T) {
	tests := []struct {
		name  string
		tty   bool
		color bool
		width int
		want  string
	}{
		{
			name: "pipe: TSV with RFC 3339 times",
			want: "workspace\tusers\tactive\tlast_seen\n" +
				"prod\t1500\ttrue\t2026-11-21T21:14:33Z\n" +
				"dev sandbox\t7\tfalse\t\n" +
				"analytics-eu\t42\ttrue\t2026-11-24T19:44:33Z\n",
		},
		{
			name: "terminal: aligned, upper-case, relative times", tty: true, width: 80,
			want: "WORKSPACE     USERS  ACTIVE  LAST_SEEN\n" +
				"prod           1500  true    3 days ago\n" +
				"dev sandbox       7  false   \n" +
				"analytics-eu     42  true    about 1 hour ago\n",
		},
		{
			name: "narrow terminal: widest columns truncated", tty: true, width: 36,
			want: "WORKSPACE  USERS  ACTIVE  LAST_SEEN\n" +
				"prod        1500  true    3 days a…\n" +
				"dev sand…      7  false   \n" +
				"analytic…     42  true    about 1 …\n",
		},
		{
			name: "colour: bold headers", tty: true, color: true, width: 80,
			want: "\x1b[1mWORKSPACE   \x1b[0m  \x1b[1mUSERS\x1b[0m  \x1b[1mACTIVE\x1b[0m  \x1b[1mLAST_SEEN\x1b[0m\n" +
				"prod           1500  true    3 days ago\n" +
				"dev sandbox       7  false   \n" +
				"analytics-eu     42  true    about 1 hour ago\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, out, errb := Test()
			s.SetStdoutTTY(tt.tty)
			s.SetColorEnabled(tt.color)
			if tt.width > 0 {
				s.SetTerminalWidth(tt.width)
			}
			printTable(t, s)
			if got := out.String(); got != tt.want {
				t.Errorf("stdout:\n got  %q\n want %q", got, tt.want)
			}
			if errb.Len() != 0 {
				t.Errorf("stderr = %q", errb)
			}
			if tt.tty {
				for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
					if w := displayWidth(strings.NewReplacer("\x1b[1m", "", "\x1b[0m", "").Replace(l)); w > tt.width {
						t.Errorf("line %q is %d wide, terminal %d", l, w, tt.width)
					}
				}
			}
		})
	}
}

func TestTablePrinterBadRow(t *testing.T) {
	s, _, _ := Test()
	tp := NewTablePrinter(s)
	tp.SetColumns(printCols...)
	if err := tp.AddRow("prod", "many", true, testNow); !errors.Is(err, ErrValueType) {
		t.Errorf("AddRow = %v, want ErrValueType", err)
	}
}

func TestRelativeTime(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Second, "just now"},
		{-10 * time.Second, "just now"},
		{time.Minute, "about 1 minute ago"},
		{5 * time.Minute, "5 minutes ago"},
		{90 * time.Minute, "about 1 hour ago"},
		{23 * time.Hour, "23 hours ago"},
		{3 * 24 * time.Hour, "3 days ago"},
		{65 * 24 * time.Hour, "2 months ago"},
		{800 * 24 * time.Hour, "2 years ago"},
		{-2 * time.Hour, "in 2 hours"},
	}
	for _, tt := range tests {
		if got := RelativeTime(testNow.Add(-tt.d), testNow); got != tt.want {
			t.Errorf("RelativeTime(now-%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if RelativeTime(time.Time{}, testNow) != "" || FormatTime(time.Time{}, testNow, false) != "" {
		t.Error("zero time must be empty")
	}
	at := time.Date(2026, 1, 2, 4, 4, 5, 0, time.FixedZone("CET", 3600))
	if got := FormatTime(at, testNow, false); got != "2026-01-02T03:04:05Z" {
		t.Errorf("FormatTime off a terminal = %q", got)
	}
	if got := FormatTime(testNow.Add(-5*time.Minute), testNow, true); got != "5 minutes ago" {
		t.Errorf("FormatTime on a terminal = %q", got)
	}
}

func TestTruncateWidth(t *testing.T) {
	tests := []struct {
		s    string
		w    int
		want string
	}{
		{"hello", 5, "hello"},
		{"hello!", 5, "hell…"},
		{"日本語のテキスト", 7, "日本語…"},
		{"abc", 0, ""},
	}
	for _, tt := range tests {
		if got := truncateWidth(tt.s, tt.w); got != tt.want || displayWidth(got) > tt.w {
			t.Errorf("truncateWidth(%q, %d) = %q, want %q", tt.s, tt.w, got, tt.want)
		}
	}
}

// TestTablePrinterExplainingColumn: a column that explains its row is
// never cut: it takes the room the others leave, a value that does not fit
// goes under its row (wrapped to the terminal), and the table uses the
// terminal's whole width.
func TestTablePrinterExplainingColumn(t *testing.T) {
	long := "the only principal with CAN_MANAGE on this cluster; nobody else can restart, resize or delete it once the user is gone"
	render := func(width int, reasons ...string) string {
		s, out, _ := Test()
		s.SetStdoutTTY(true)
		s.SetTerminalWidth(width)
		tp := NewTablePrinter(s)
		tp.SetColumns(Column{Name: "severity"}, Column{Name: "object"}, Column{Name: "reason"})
		tp.Wrap("reason")
		for i, r := range reasons {
			if err := tp.AddRow("orphaned", fmt.Sprintf("cluster-%d with a long name", i), r); err != nil {
				t.Fatal(err)
			}
		}
		if err := tp.Render(); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	// Wide enough: the reason is in its column, whole.
	got := render(160, long, "short")
	if !strings.Contains(got, "cluster-0 with a long name  "+long+"\n") || strings.Contains(got, "…") {
		t.Errorf("at 160 columns the reason is cut or moved:\n%s", got)
	}
	// Too long for its column: under the row, wrapped, nothing lost.
	got = render(80, long, "short")
	want := "SEVERITY  OBJECT                      REASON\n" +
		"orphaned  cluster-0 with a long name  \n" +
		"    the only principal with CAN_MANAGE on this cluster; nobody else can\n" +
		"    restart, resize or delete it once the user is gone\n" +
		"orphaned  cluster-1 with a long name  short\n"
	if got != want {
		t.Errorf("at 80 columns:\n got\n%s\n want\n%s", got, want)
	}
	for _, l := range strings.Split(got, "\n") {
		if displayWidth(l) > 79 {
			t.Errorf("line wider than the terminal: %q", l)
		}
	}
	// No reason fits: the column goes, every reason is under its row.
	got = render(60, long)
	if strings.Contains(got, "REASON") || !strings.Contains(got, "    user is gone\n") {
		t.Errorf("at 60 columns:\n%s", got)
	}
}

func TestWrapWidth(t *testing.T) {
	tests := []struct {
		s    string
		w    int
		want []string
	}{
		{"", 10, []string{""}},
		{"a b c", 10, []string{"a b c"}},
		{"alpha beta gamma", 10, []string{"alpha beta", "gamma"}},
		{"supercalifragilistic x", 8, []string{"supercal", "ifragili", "stic x"}},
		{"日本語の文章です", 6, []string{"日本語", "の文章", "です"}},
	}
	for _, tt := range tests {
		if got := wrapWidth(tt.s, tt.w); !slices.Equal(got, tt.want) {
			t.Errorf("wrapWidth(%q, %d) = %q, want %q", tt.s, tt.w, got, tt.want)
		}
	}
}
