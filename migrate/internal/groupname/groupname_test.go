package groupname

import "testing"

func TestLength(t *testing.T) {
	for s, want := range map[string]int{"": 0, "ops": 3, "Données": 7, "😀": 2, "a😀b": 4, "\xff": 1, "עברית": 5} {
		if got := Length(s); got != want {
			t.Errorf("Length(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestFoldAndIsSystem(t *testing.T) {
	if Fold("Data Eng ") != "data eng " {
		t.Errorf("Fold trims or misses case: %q", Fold("Data Eng "))
	}
	for name, want := range map[string]bool{"admins": true, "Users": true, "ACCOUNT USERS": true, " admins": false, "admins ": false, "ops": false} {
		if got := IsSystem(name); got != want {
			t.Errorf("IsSystem(%q) = %v, want %v", name, got, want)
		}
	}
}
