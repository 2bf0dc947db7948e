package sandbox

import (
	"context"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/iam"
)

// The official SDK retries both throttle styles the sandbox emits (reference
// §G.3, §L): a 429 with a REST REQUEST_LIMIT_EXCEEDED body and Retry-After,
// and a SCIM 500 whose detail starts with REQUEST_LIMIT_EXCEEDED. The SDK
// sleeps about a second per retry, so each style is throttled once.
func TestSDKRetriesThrottling(t *testing.T) {
	for _, style := range []string{ThrottleStyle429, ThrottleStyleSCIM500} {
		t.Run(style, func(t *testing.T) {
			srv := newSmall(t, Options{ThrottleStyle: style, RateLimits: map[string]float64{ClassSCIMRead: 1}})
			w := sdkWS(t, srv, wsFed)
			ctx := context.Background()
			for i := range 2 {
				me, err := w.CurrentUser.Me(ctx, iam.MeRequest{})
				if err != nil {
					t.Fatalf("Me #%d: %v", i+1, err)
				}
				if me.UserName != "ada@small.test" {
					t.Errorf("Me #%d: %+v", i+1, me)
				}
			}
			st := srv.Stats()
			if st.Throttled != 1 {
				t.Errorf("Stats.Throttled = %d, want 1 (the second Me, then retried)", st.Throttled)
			}
			if n := st.Count("GET", wsSCIMBase+"/Me"); n != 3 {
				t.Errorf("%d Me requests, want 3 (two calls, one retry)", n)
			}
		})
	}
}
