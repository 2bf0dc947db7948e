package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestParseFault(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Fault
	}{
		{"method=post,path=/scim/v2/Groups$,after,status=500,times=1",
			Fault{Method: "POST", PathRegexp: "/scim/v2/Groups$", AfterHandler: true, Status: 500, Times: 1}},
		{` method = POST , path = "^/api/2.0/accounts/[^/]+/scim/v2/Groups$" , after=true, drop, offset=2`,
			Fault{Method: "POST", PathRegexp: "^/api/2.0/accounts/[^/]+/scim/v2/Groups$", AfterHandler: true, Drop: true, Offset: 2}},
		{`status=503,workspace=6051921418418891,body="{\"error_code\":\"TEMPORARILY_UNAVAILABLE\", \"message\":\"x\"}"`,
			Fault{Status: 503, Workspace: 6051921418418891, Body: `{"error_code":"TEMPORARILY_UNAVAILABLE", "message":"x"}`}},
		{`path="x{1,2}",drop=true,after=false`, Fault{PathRegexp: "x{1,2}", Drop: true}},
	} {
		got, err := ParseFault(tc.spec)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseFault(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ spec, want string }{
		{"method=POST", `fault "method=POST": give status=CODE or drop`},
		{"status=99", `fault "status=99": status: "99" is not an HTTP status`},
		{"status=500,colour=red", `fault "status=500,colour=red": unknown key "colour" (want method, path, workspace, status, body, drop, after, offset, times)`},
		{"status=500,path=(", `fault "status=500,path=(": path: error parsing regexp`},
		{"status=500,times=-1", `times: "-1" is not an integer of at least 0`},
		{"status=500,times", `times needs a value (times=...)`},
		{"status=500,method=P0ST", `method: "P0ST" is not an HTTP method`},
		{"status=500,workspace=abc", `workspace: "abc" is not a workspace id`},
		{`status=500,path="unclosed`, `a double quote is not closed`},
		{"status=500,status=503", `status is given twice`},
		{"drop=maybe", `drop: "maybe" is not true or false`},
	} {
		_, err := ParseFault(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFault(%q) = %v, want an error containing %q", tc.spec, err, tc.want)
		}
	}
}

// TestServeFaultFlag: "sandbox serve --fault" installs targeted faults: a
// group POST that takes effect but whose reply is lost, then one whose
// connection is dropped after it took effect; the next POST is served.
func TestServeFaultFlag(t *testing.T) {
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	app := newApp(pw, &stderr)
	app.DisableSliceFlagSeparator = true // as main.go: a spec holds commas
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- app.RunContext(ctx, []string{"dbiam", "sandbox", "serve", "--seed", "../testdata/sandbox/small.json",
			"--fault", "method=POST,path=/scim/v2/Groups$,after,status=500,times=1",
			"--fault", "method=POST,path=/scim/v2/Groups$,after,drop,times=1"})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("first stdout line: %v (%v)", err, <-done)
	}
	var info ServeInfo
	if err := json.Unmarshal([]byte(line), &info); err != nil {
		t.Fatal(err)
	}
	post := func(name string) (int, error) {
		req, _ := http.NewRequest("POST", info.Host+"/api/2.0/accounts/"+info.AccountID+"/scim/v2/Groups",
			strings.NewReader(`{"displayName":"`+name+`"}`))
		req.Header.Set("Authorization", "Bearer "+info.Token)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := post("lost-reply"); err != nil || code != 500 {
		t.Errorf("first POST: %d, %v; want 500 (reply lost)", code, err)
	}
	if _, err := post("dropped"); err == nil {
		t.Errorf("second POST got a reply; want a dropped connection")
	}
	if code, err := post("served"); err != nil || code != 201 {
		t.Errorf("third POST: %d, %v; want 201", code, err)
	}
	// Every POST took effect.
	req, _ := http.NewRequest("GET", info.Host+"/api/2.0/accounts/"+info.AccountID+"/scim/v2/Groups?attributes=displayName", nil)
	req.Header.Set("Authorization", "Bearer "+info.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"lost-reply", "dropped", "served"} {
		if !strings.Contains(string(body), `"`+name+`"`) {
			t.Errorf("group %q was not created: %s", name, body)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}

	// A bad spec fails before serving.
	app = newApp(io.Discard, io.Discard)
	app.DisableSliceFlagSeparator = true
	err = app.RunContext(context.Background(), []string{"dbiam", "sandbox", "serve", "--fault", "status=500,when=now"})
	if err == nil || !strings.HasPrefix(err.Error(), `--fault "status=500,when=now": unknown key "when"`) {
		t.Errorf("bad --fault: %v", err)
	}
}
