package jobs

import (
	"testing"
	"time"

	"github.com/certdock/certdock/internal/errs"
)

func TestBackoff(t *testing.T) {
	want := []time.Duration{time.Minute, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}
	for n, w := range want {
		if got := Backoff(n); got != w {
			t.Errorf("Backoff(%d) = %s, want %s", n, got, w)
		}
	}
	if Backoff(100) != Backoff(10) {
		t.Errorf("Backoff is not capped")
	}
}

func TestRequest_Validate(t *testing.T) {
	const store = "11111111-2222-4333-8444-555555555555"
	cases := []struct {
		name  string
		r     Request
		field string // "" = valid
	}{
		{"inventory", Request{StoreID: store, Operation: Inventory}, ""},
		{"add", Request{StoreID: store, Operation: Add, CertificateID: 1}, ""},
		{"remove by alias", Request{StoreID: store, Operation: Remove, Alias: "a"}, ""},
		{"store not a GUID", Request{StoreID: "x", Operation: Inventory}, "StoreId"},
		{"inventory with certificate", Request{StoreID: store, Operation: Inventory, CertificateID: 1}, "CertificateId"},
		{"add without certificate", Request{StoreID: store, Operation: Add}, "CertificateId"},
		{"remove with nothing", Request{StoreID: store, Operation: Remove}, "Alias"},
		{"unknown operation", Request{StoreID: store, Operation: 0}, "Operation"},
		{"long alias", Request{StoreID: store, Operation: Add, CertificateID: 1, Alias: string(make([]byte, 256))}, "Alias"},
	}
	for _, c := range cases {
		err := c.r.Validate()
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.field != "" && errs.As(err).Field != c.field:
			t.Errorf("%s: err = %v, want a field error on %s", c.name, err, c.field)
		}
	}
}
