package policy

import "testing"

func TestCurveOID_Spellings(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"P-256", OIDP256, true},
		{"prime256v1", OIDP256, true},
		{OIDP384, OIDP384, true},
		{"secp521r1", OIDP521, true},
		{"", "", false},
		{OIDEd25519, "", false},
		{"brainpoolP256r1", "", false},
	}
	for _, tt := range tests {
		got, ok := CurveOID(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CurveOID(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
