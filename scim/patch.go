package scim

// PatchOp builders produce the request bodies of reference §A.4. Each returns
// a complete PatchOp (with schemas); combine several with Ops.

func patch(ops ...PatchOperation) PatchOp {
	return PatchOp{Schemas: []string{SchemaPatchOp}, Operations: ops}
}

func values(vs []string) []ComplexValue {
	out := make([]ComplexValue, len(vs))
	for i, v := range vs {
		out[i] = ComplexValue{Value: v}
	}
	return out
}

// Ops combines the operations of several PatchOps into one request.
func Ops(ops ...PatchOp) PatchOp {
	var all []PatchOperation
	for _, op := range ops {
		all = append(all, op.Operations...)
	}
	return patch(all...)
}

// AddMembers adds principals (by SCIM id) to a group in one operation. The
// server's limit on members per request is undocumented; batching is the
// caller's job (UCX sends at most 20 per request). Adding a member twice is
// harmless, so the PATCH may be sent with Idempotent.
func AddMembers(ids ...string) PatchOp {
	return patch(PatchOperation{Op: "add", Path: "members", Value: values(ids)})
}

// RemoveMember removes one principal (by SCIM id) from a group:
// `members[value eq "id"]`.
func RemoveMember(id string) PatchOp {
	return patch(PatchOperation{Op: "remove", Path: "members[" + Eq("value", id) + "]"})
}

// ReplaceDisplayName renames a group (or sets a principal's display name).
func ReplaceDisplayName(name string) PatchOp {
	return patch(PatchOperation{Op: "replace", Path: "displayName", Value: name})
}

// AddEntitlements adds entitlements (e.g. EntitlementWorkspaceAccess).
// Entitlements are workspace-only; the account API rejects them.
func AddEntitlements(v ...string) PatchOp {
	return patch(PatchOperation{Op: "add", Path: "entitlements", Value: values(v)})
}

// RemoveEntitlements removes entitlements with the value-list form Terraform
// sends ({"op":"remove","path":"entitlements","value":[...]}), which is
// non-RFC but known to work. Removing an entitlement the principal lacks may
// fail with 400 invalidPath.
func RemoveEntitlements(v ...string) PatchOp {
	return patch(PatchOperation{Op: "remove", Path: "entitlements", Value: values(v)})
}

// AddRoles adds roles (on AWS workspaces, instance-profile ARNs).
func AddRoles(v ...string) PatchOp {
	return patch(PatchOperation{Op: "add", Path: "roles", Value: values(v)})
}

// RemoveRoles removes roles, one `roles[value eq "..."]` operation each.
func RemoveRoles(v ...string) PatchOp {
	ops := make([]PatchOperation, len(v))
	for i, r := range v {
		ops[i] = PatchOperation{Op: "remove", Path: "roles[" + Eq("value", r) + "]"}
	}
	return patch(ops...)
}

// SetActive activates or deactivates a user or service principal with the
// RFC form {"op":"replace","path":"active","value":<bool>}.
func SetActive(active bool) PatchOp {
	return patch(PatchOperation{Op: "replace", Path: "active", Value: active})
}
