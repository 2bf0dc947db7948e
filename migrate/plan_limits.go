package migrate

// ServiceLimits are the limits of the real service that the plan checks.
type ServiceLimits struct {
	AccountGroups int
	DirectParents int
	NestingDepth  int
	NameLength    int
}

func (l ServiceLimits) withDefaults() ServiceLimits { return l }
func (l ServiceLimits) check() error               { return nil }
func (b *planBuilder) checkLimits()                {}
func (b *planBuilder) externallyProvisioned()      {}
