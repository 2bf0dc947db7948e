package sandbox

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Alerts v2 (the new alerts experience, reference §F "SQL alerts v2"): the
// seed section "alerts_v2" of SeedObjects, the list and get endpoints, and
// their ACLs (permissions API type alertsv2).
//
//	GET /api/2.0/alerts?page_size=&page_token=   {"alerts":[...],"next_page_token"}; by creation time;
//	                                             page_size clamped to 100 (default 20)
//	GET /api/2.0/alerts/{id}                     404 RESOURCE_DOES_NOT_EXIST
//
// Every alert carries effective_run_as (its run_as, else its owner) and the
// deprecated run_as_user_name; run_as only when the seed sets it.

func init() {
	registerFamily(family{name: "alertsv2", routes: registerAlertsV2})
}

// permTypeAlertsV2 is the permissions API object type of v2 alerts.
const permTypeAlertsV2 = "alertsv2"

// SeedAlertV2 is an alert of the alerts v2 API (GET /api/2.0/alerts). JSON
// form:
//
//	{"id": "<uuid>", "display_name": "a", "owner": "<user>", "run_as": {"service_principal_name": "<app id>"},
//	 "warehouse_id": "<wh>", "query_text": "SELECT 1",
//	 "schedule": {"quartz_cron_schedule": "0 0 * * * ?", "timezone_id": "UTC", "pause_status": "PAUSED"},
//	 "state": "OK", "trashed": false, "created": "now-10d", "permissions": []}
//
// RunAs defaults to the owner; Schedule defaults to hourly, UTC, unpaused.
// The owner holds CAN_MANAGE (permissions type alertsv2).
type SeedAlertV2 struct {
	ID          string               `json:"id"`
	DisplayName string               `json:"display_name"`
	Owner       string               `json:"owner"`
	RunAs       *SeedRunAs           `json:"run_as,omitempty"`
	WarehouseID string               `json:"warehouse_id,omitempty"`
	QueryText   string               `json:"query_text,omitempty"`
	Schedule    *SeedAlertV2Schedule `json:"schedule,omitempty"`
	// State is the evaluation state: UNKNOWN (default), OK, TRIGGERED or ERROR.
	State       string      `json:"state,omitempty"`
	Trashed     bool        `json:"trashed,omitempty"`
	Created     SeedTime    `json:"created,omitempty"`
	Permissions []SeedGrant `json:"permissions,omitempty"`
}

// SeedAlertV2Schedule is a v2 alert's schedule (wire shape of schedule).
type SeedAlertV2Schedule struct {
	QuartzCronSchedule string `json:"quartz_cron_schedule"`
	TimezoneID         string `json:"timezone_id"`
	// PauseStatus is PAUSED or UNPAUSED (default UNPAUSED).
	PauseStatus string `json:"pause_status,omitempty"`
}

type alertV2Obj struct {
	SeedAlertV2
	created time.Time
}

// alertsV2 checks the alerts_v2 section; warehouses holds the
// workspace's warehouse ids (lower case).
func (v *objectValidator) alertsV2(o *SeedObjects, warehouses map[string]bool) {
	seen := map[string]bool{}
	for i, a := range o.AlertsV2 {
		f := fmt.Sprintf("alerts_v2[%d]", i)
		if !reUUID.MatchString(a.ID) {
			v.errf("%s.id: %q is not a lower-case UUID", f, a.ID)
		}
		v.unique(f+".id", seen, a.ID)
		if strings.TrimSpace(a.DisplayName) == "" {
			v.errf("%s.display_name: required", f)
		}
		v.principalRef(f+".owner", a.Owner, true)
		v.runAs(f+".run_as", a.RunAs)
		if a.WarehouseID != "" && !warehouses[strings.ToLower(a.WarehouseID)] {
			v.errf("%s.warehouse_id: %q is not a warehouse of the workspace", f, a.WarehouseID)
		}
		if s := a.Schedule; s != nil {
			if strings.TrimSpace(s.QuartzCronSchedule) == "" || strings.TrimSpace(s.TimezoneID) == "" {
				v.errf("%s.schedule: quartz_cron_schedule and timezone_id are required", f)
			}
			v.enum(f+".schedule.pause_status", s.PauseStatus, "PAUSED", "UNPAUSED")
		}
		v.enum(f+".state", a.State, "UNKNOWN", "OK", "TRIGGERED", "ERROR")
		v.time(f+".created", a.Created, false)
	}
}

// alertsV2ACLSpecs lists the initial ACL of every v2 alert: its owner holds
// CAN_MANAGE, then come the seeded grants.
func alertsV2ACLSpecs(o *SeedObjects) []aclSpec {
	var out []aclSpec
	for i, a := range o.AlertsV2 {
		out = append(out, aclSpec{typ: permTypeAlertsV2, id: a.ID, field: fmt.Sprintf("alerts_v2[%d]", i),
			defaults: []defaultGrant{{a.Owner, "CAN_MANAGE"}}, grants: a.Permissions})
	}
	return out
}

// buildAlertsV2 resolves the alerts_v2 section, ordered by creation time.
func buildAlertsV2(as []SeedAlertV2, at func(SeedTime) time.Time) []*alertV2Obj {
	var out []*alertV2Obj
	for _, a := range as {
		out = append(out, &alertV2Obj{SeedAlertV2: a, created: at(a.Created)})
	}
	slices.SortStableFunc(out, func(a, b *alertV2Obj) int { return a.created.Compare(b.created) })
	return out
}

func registerAlertsV2(s *Server) {
	for pattern, h := range map[string]func(*call) error{
		"/api/2.0/alerts":      listAlertsV2,
		"/api/2.0/alerts/{id}": getAlertV2,
	} {
		s.handle(route{method: http.MethodGet, pattern: pattern, class: ClassDefault,
			scope: scopeWorkspace, access: accessMember, handle: h})
	}
}

type wireAlertV2RunAs struct {
	UserName             string `json:"user_name,omitempty"`
	ServicePrincipalName string `json:"service_principal_name,omitempty"`
}

type wireAlertV2Schedule struct {
	QuartzCronSchedule string `json:"quartz_cron_schedule"`
	TimezoneID         string `json:"timezone_id"`
	PauseStatus        string `json:"pause_status"`
}

type wireAlertV2 struct {
	ID             string              `json:"id"`
	DisplayName    string              `json:"display_name"`
	OwnerUserName  string              `json:"owner_user_name"`
	RunAsUserName  string              `json:"run_as_user_name,omitempty"`
	RunAs          *wireAlertV2RunAs   `json:"run_as,omitempty"`
	EffectiveRunAs *wireAlertV2RunAs   `json:"effective_run_as,omitempty"`
	LifecycleState string              `json:"lifecycle_state"`
	QueryText      string              `json:"query_text"`
	WarehouseID    string              `json:"warehouse_id"`
	Schedule       wireAlertV2Schedule `json:"schedule"`
	Evaluation     map[string]any      `json:"evaluation"`
	CreateTime     string              `json:"create_time"`
	UpdateTime     string              `json:"update_time"`
}

func renderAlertV2(a *alertV2Obj) wireAlertV2 {
	eff := SeedRunAs{UserName: a.Owner}
	if a.RunAs != nil {
		eff = *a.RunAs
	}
	out := wireAlertV2{ID: a.ID, DisplayName: a.DisplayName, OwnerUserName: a.Owner, RunAsUserName: eff.name(),
		EffectiveRunAs: &wireAlertV2RunAs{UserName: eff.UserName, ServicePrincipalName: eff.ServicePrincipalName},
		LifecycleState: "ACTIVE", QueryText: cmp.Or(a.QueryText, "SELECT 1 AS value"), WarehouseID: a.WarehouseID,
		Schedule: wireAlertV2Schedule{QuartzCronSchedule: "0 0 * * * ?", TimezoneID: "UTC", PauseStatus: "UNPAUSED"},
		Evaluation: map[string]any{"comparison_operator": "GREATER_THAN", "source": map[string]any{"name": "value"},
			"threshold": map[string]any{"value": map[string]any{"double_value": 0}}, "state": cmp.Or(a.State, "UNKNOWN")},
		CreateTime: msRFC3339(a.created), UpdateTime: msRFC3339(a.created)}
	if a.RunAs != nil {
		out.RunAs = &wireAlertV2RunAs{UserName: a.RunAs.UserName, ServicePrincipalName: a.RunAs.ServicePrincipalName}
	}
	if s := a.Schedule; s != nil {
		out.Schedule = wireAlertV2Schedule{QuartzCronSchedule: s.QuartzCronSchedule, TimezoneID: s.TimezoneID,
			PauseStatus: cmp.Or(s.PauseStatus, "UNPAUSED")}
	}
	if a.Trashed {
		out.LifecycleState = "DELETED"
	}
	return out
}

// listAlertsV2 lists the alerts the caller can see ("Gets a list of alerts
// accessible to the user", SDK AlertsV2API).
func listAlertsV2(c *call) error {
	var all []*alertV2Obj
	for _, a := range c.s.objects(c.ws).alertsV2 {
		if c.canSee(permTypeAlertsV2, a.ID) {
			all = append(all, a)
		}
	}
	from, to, next, err := tokenPage(c, "alertsv2", len(all), "page_size", sqlDefaultPage, sqlMaxPage, false)
	if err != nil {
		return err
	}
	resp := struct {
		Alerts        []wireAlertV2 `json:"alerts,omitempty"`
		NextPageToken string        `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, a := range all[from:to] {
		resp.Alerts = append(resp.Alerts, renderAlertV2(a))
	}
	return c.reply(http.StatusOK, resp)
}

func getAlertV2(c *call) error {
	id := c.r.PathValue("id")
	for _, a := range c.s.objects(c.ws).alertsV2 {
		if a.ID == id {
			if !c.canSee(permTypeAlertsV2, id) {
				return c.denied(permTypeAlertsV2, id)
			}
			return c.reply(http.StatusOK, renderAlertV2(a))
		}
	}
	return restErr(http.StatusNotFound, errResourceDoesNotExist, "Alert %s does not exist.", id)
}
