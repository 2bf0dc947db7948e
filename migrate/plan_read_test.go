package migrate

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// planJSON runs a plan of srv with o and returns its normalised file.
func planJSON(t *testing.T, srv *sandbox.Server, o PlanOptions) []byte {
	t.Helper()
	p, _ := runTestPlan(t, srv, o)
	raw, err := MarshalPlan(p)
	if err != nil {
		t.Fatal(err)
	}
	return planNormalize(raw, srv.URL())
}

// TestPlanDerivedMembersEqualGets: on every test seed and a synthetic
// account (nested local groups, account groups nested in local ones), under
// every policy, the plan whose members are derived from the lists is the
// plan that one GET per group gives, byte for byte, and it sends no GET per
// group.
func TestPlanDerivedMembersEqualGets(t *testing.T) {
	synth, err := sandbox.Synthetic("workspaces=3,users=120,groups=16,members=6,sps=5,local-groups=24,seed=5")
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[string]func(t *testing.T) *sandbox.Server{
		"synthetic": func(t *testing.T) *sandbox.Server {
			return sandbox.NewTestServer(t, sandbox.Options{Seed: synth, PageCap: 9})
		},
	}
	for _, name := range []string{"", "nested", "conflicts", "match"} {
		seeds["seed "+name] = func(t *testing.T) *sandbox.Server { return newPlanServer(t, name) }
	}
	for name, start := range seeds {
		for _, policy := range []string{PolicyFail, PolicyMerge, PolicyPerWorkspace} {
			t.Run(name+"/"+policy, func(t *testing.T) {
				srv := start(t)
				want := planJSON(t, srv, PlanOptions{OnConflict: policy, GetMembers: true})
				srv.ResetStats()
				got := planJSON(t, srv, PlanOptions{OnConflict: policy})
				if !bytes.Equal(got, want) {
					t.Errorf("derived plan differs from the plan read with GETs:\n%s", planFirstDiff(string(want), string(got)))
				}
				if n := srv.Stats().Count("GET", "/api/2.0/preview/scim/v2/Groups/{id}"); n != 0 {
					t.Errorf("derived plan sent %d GETs of a workspace group", n)
				}
			})
		}
	}
}

// TestPlanAmbiguousMembershipIsRead: when the user list names a selected
// group in a "groups" entry of another type than "direct", the plan does
// not guess: it reads that group (and only it) with a GET, and the plan is
// the one the GETs give.
func TestPlanAmbiguousMembershipIsRead(t *testing.T) {
	srv := newPlanServer(t, "nested")
	want := planJSON(t, srv, PlanOptions{OnConflict: PolicyMerge, GetMembers: true})
	const parent = "5002" // "parent" in workspace nest; bob (1002) is a direct member

	// A proxy that marks parent's entries in the user list "indirect".
	target, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	entry := regexp.MustCompile(`\{[^{}]*"value":"` + parent + `"[^{}]*\}`)
	gets := 0
	proxy.ModifyResponse = func(r *http.Response) error {
		p := r.Request.URL.Path
		if r.Request.Method == http.MethodGet && strings.HasSuffix(p, "/Groups/"+parent) {
			gets++
		}
		if r.Request.Method != http.MethodGet || !strings.HasSuffix(p, "/preview/scim/v2/Users") {
			return nil
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		r.Body.Close()
		body = entry.ReplaceAllFunc(body, func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"type":"direct"`), []byte(`"type":"indirect"`), 1)
		})
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)

	streams, _, stderr := reports.Test()
	d := Deps{Streams: streams, Now: planClock, Connect: func(ctx context.Context) (*scim.Session, error) {
		return scim.Connect(ctx, scim.Settings{Host: front.URL, AccountID: srv.AccountID(), Token: srv.AdminToken(),
			Hermetic: true, Rates: scim.UnlimitedRates()})
	}}
	o := PlanOptions{Out: filepath.Join(t.TempDir(), "plan.json"), OnConflict: PolicyMerge, ToolVersion: "test"}
	checkPlanRunErr(t, RunPlan(context.Background(), o, d), o)
	p, _, err := ReadPlan(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := MarshalPlan(p)
	got := planNormalize(bytes.ReplaceAll(raw, []byte(front.URL), []byte(srv.URL())), srv.URL())
	if !bytes.Equal(got, want) {
		t.Errorf("plan differs from the plan read with GETs:\n%s", planFirstDiff(string(want), string(got)))
	}
	if gets != 1 {
		t.Errorf("%d GETs of the ambiguous group, want 1", gets)
	}
	if !strings.Contains(stderr.String(), "members_read=1") {
		t.Errorf("log does not say one group was read with a GET:\n%s", stderr)
	}
}

// TestPlanHeartbeat: off a terminal, the plan logs status lines while it
// reads (here every 10 ms of a read slowed to 30 ms a request), with the
// identities listed so far, and a line per task: the account, each
// workspace, building the plan (which counts the reads of reused account
// groups' members) and each workspace's grants, read or not; the default
// interval is 5 s, so that a line comes at least every 10 s. The number of
// tasks is known before the first line and never changes, and the
// percentage never goes back (it went from 79% to 60% as tasks were
// added).
func TestPlanHeartbeat(t *testing.T) {
	if planStatusInterval*2 > 10*time.Second {
		t.Fatalf("planStatusInterval %v: a status line may be %v apart", planStatusInterval, 2*planStatusInterval)
	}
	srv := sandbox.NewTestServer(t, sandbox.Options{Latency: 30 * time.Millisecond})
	streams, _, stderr := reports.Test()
	d := Deps{Streams: streams, Connect: func(ctx context.Context) (*scim.Session, error) {
		return scim.Connect(ctx, scim.Settings{Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(),
			Hermetic: true, Rates: scim.UnlimitedRates()})
	}}
	o := PlanOptions{Out: filepath.Join(t.TempDir(), "plan.json"), OnConflict: PolicyMerge, ToolVersion: "test",
		StatusInterval: 10 * time.Millisecond}
	checkPlanRunErr(t, RunPlan(context.Background(), o, d), o)
	status := regexp.MustCompile(`INFO plan status tasks=\d+ finished=\d+ failed=0 running=\d+ queued=\d+ identities=\d+ percent=\d+`)
	if !status.MatchString(stderr.String()) {
		t.Errorf("no plan status line:\n%s", stderr)
	}
	for _, task := range []string{"account", "acme-prod (6051921418418891)", "build the plan", "grants acme-prod",
		`grants acme-legacy" identities=0 took=`} {
		if !strings.Contains(stderr.String(), `INFO plan done task="`+task) {
			t.Errorf("no line for the task %s:\n%s", task, stderr)
		}
	}
	if !regexp.MustCompile(`INFO plan done task="grants acme-legacy" .* summary="not read: the workspace is skipped"`).MatchString(stderr.String()) {
		t.Errorf("the grants task of a skipped workspace does not say why it read nothing:\n%s", stderr)
	}
	tasks := len(regexp.MustCompile(`INFO plan (done|failed) task=`).FindAllString(stderr.String(), -1))
	if want := 2*4 + 2; tasks != want { // 4 workspaces
		t.Errorf("%d task lines, want %d", tasks, want)
	}
	last := 0
	for _, m := range regexp.MustCompile(`plan status tasks=(\d+) .* percent=(\d+)`).FindAllStringSubmatch(stderr.String(), -1) {
		if m[1] != strconv.Itoa(tasks) {
			t.Errorf("status line counts %s tasks, want %d from the start: %s", m[1], tasks, m[0])
		}
		pc, _ := strconv.Atoi(m[2])
		if pc < last {
			t.Errorf("percentage went back from %d to %d: %s", last, pc, m[0])
		}
		last = pc
	}
}

// TestPlanCommandGetMembers: --get-members reads each selected group with
// one GET, and gives the plan that the derived members give.
func TestPlanCommandGetMembers(t *testing.T) {
	srv := newPlanServer(t, "")
	want := planJSON(t, srv, PlanOptions{})
	d, _, _, _ := planDeps(t, srv)
	out := filepath.Join(t.TempDir(), "p.json")
	srv.ResetStats()
	err := runPlanCommand(t, d, "--out", out, "--get-members")
	var re *PlanReviewError
	if err != nil && !errors.As(err, &re) {
		t.Fatal(err)
	}
	if n := srv.Stats().Count("GET", "/api/2.0/preview/scim/v2/Groups/{id}"); n < 10 {
		t.Errorf("--get-members sent %d GETs of a workspace group, want one per selected group", n)
	}
	p, _, err := ReadPlan(out)
	if err != nil {
		t.Fatal(err)
	}
	p.ToolVersion = "test"
	raw, _ := MarshalPlan(p)
	if got := planNormalize(raw, srv.URL()); !bytes.Equal(got, want) {
		t.Errorf("--get-members plan differs:\n%s", planFirstDiff(string(want), string(got)))
	}
}

// TestPlanAccountReadFails: the account's lists are read alongside the
// workspaces; when one fails (whatever --skip-unreadable says: the account
// is not a workspace to leave out) the plan fails with its error, not with
// the cancellation of the workspace reads, and writes nothing.
func TestPlanAccountReadFails(t *testing.T) {
	for _, skip := range []bool{false, true} {
		srv := newPlanServer(t, "")
		if err := srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `/accounts/[^/]+/scim/v2/ServicePrincipals$`, Status: http.StatusForbidden}); err != nil {
			t.Fatal(err)
		}
		d, _, _, _ := planDeps(t, srv)
		out := filepath.Join(t.TempDir(), "plan.json")
		err := RunPlan(context.Background(), PlanOptions{Out: out, ToolVersion: "test", SkipUnreadable: skip}, d)
		if err == nil || !strings.HasPrefix(err.Error(), "list account service principals: ") || !errors.Is(err, scim.ErrPermissionDenied) {
			t.Errorf("skip-unreadable %v: RunPlan = %v, want the account list's 403", skip, err)
		}
		if errors.Is(err, context.Canceled) {
			t.Errorf("skip-unreadable %v: the error is a cancellation: %v", skip, err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("skip-unreadable %v: a failed plan left a plan file: %v", skip, err)
		}
	}
}
