package stores

import (
	"testing"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
)

func TestSchedule_ParseAndNext(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	cases := []struct {
		in, text string
		next     *time.Time // Next(at)
		first    *time.Time // First(at)
	}{
		{"", "", nil, nil},
		{"IMMEDIATE", "IMMEDIATE", nil, &at},
		{"I_60", "I_60", ptrT(at.Add(time.Hour)), ptrT(at.Add(time.Hour))},
		{"D_13:00", "D_13:00", ptrT(time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)), ptrT(time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC))},
		{"D_12:30", "D_12:30", ptrT(time.Date(2026, 3, 2, 12, 30, 0, 0, time.UTC)), ptrT(time.Date(2026, 3, 2, 12, 30, 0, 0, time.UTC))},
		{"O_2026-03-01T14:00:00Z", "O_2026-03-01T14:00:00Z", ptrT(time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)), ptrT(time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC))},
		{"O_2026-03-01T10:00:00Z", "O_2026-03-01T10:00:00Z", nil, &at}, // past exactly-once runs once, now
	}
	for _, c := range cases {
		s, err := ParseSchedule(c.in)
		if err != nil {
			t.Fatalf("ParseSchedule(%q): %v", c.in, err)
		}
		if s.String() != c.text {
			t.Errorf("%q: String = %q", c.in, s.String())
		}
		if got := s.Next(at); !eqT(got, c.next) {
			t.Errorf("%q: Next = %v, want %v", c.in, got, c.next)
		}
		if got := s.First(at); !eqT(got, c.first) {
			t.Errorf("%q: First = %v, want %v", c.in, got, c.first)
		}
		back, err := FromObject(s.Object(), "S")
		if err != nil || back.String() != s.String() {
			t.Errorf("%q: object round trip = %q, %v", c.in, back.String(), err)
		}
	}
	for _, bad := range []string{"I_0", "I_x", "I_999999", "D_25:00", "O_yesterday", "W_1", "W_7_08:00", "W__08:00", "W_1_8h", "M_0_08:00", "M_32_08:00", "M_X_08:00", "M_L", "hourly"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", bad)
		}
	}
}

func TestSchedule_FromObjectRejects(t *testing.T) {
	tr := true
	cases := []struct {
		name  string
		o     ScheduleObject
		field string
	}{
		{"two kinds", ScheduleObject{Immediate: &tr, Interval: &IntervalModel{Minutes: 5}}, "S"},
		{"zero interval", ScheduleObject{Interval: &IntervalModel{}}, "S.Interval.Minutes"},
		{"bad daily", ScheduleObject{Daily: &TimeModel{Time: "noon"}}, "S.Daily.Time"},
		{"weekly without days", ScheduleObject{Weekly: &WeeklyModel{Time: "2026-01-01T08:00:00Z"}}, "S.Weekly.Days"},
		{"weekly day 7", ScheduleObject{Weekly: &WeeklyModel{Days: []int{1, 7}, Time: "2026-01-01T08:00:00Z"}}, "S.Weekly.Days"},
		{"weekly bad time", ScheduleObject{Weekly: &WeeklyModel{Days: []int{1}, Time: "8am"}}, "S.Weekly.Time"},
		{"monthly day 0", ScheduleObject{Monthly: &MonthlyModel{Day: 0, Time: "2026-01-01T08:00:00Z"}}, "S.Monthly.Day"},
		{"monthly day 32", ScheduleObject{Monthly: &MonthlyModel{Day: 32, Time: "2026-01-01T08:00:00Z"}}, "S.Monthly.Day"},
		{"monthly bad time", ScheduleObject{Monthly: &MonthlyModel{Day: 3}}, "S.Monthly.Time"},
		{"weekly and monthly", ScheduleObject{Weekly: &WeeklyModel{Days: []int{1}, Time: "2026-01-01T08:00:00Z"},
			Monthly: &MonthlyModel{Day: 1, Time: "2026-01-01T08:00:00Z"}}, "S"},
	}
	for _, c := range cases {
		_, err := FromObject(&c.o, "S")
		if e := errs.As(err); err == nil || e.Field != c.field {
			t.Errorf("%s: err = %v, want a field error on %s", c.name, err, c.field)
		}
	}
}

func TestCheckProperties(t *testing.T) {
	pem, _ := Builtin(TypePEM)
	jks, _ := Builtin(TypeJKS)
	custom := StoreType{ShortName: "C", Properties: []Property{
		{Name: "Needed", Required: true}, {Name: "Flag", Type: 1}, {Name: "Def", Required: true, DefaultValue: "d"}}}
	cases := []struct {
		name string
		t    StoreType
		in   string
		out  string // "" = error
	}{
		{"empty", pem, "", "{}"},
		{"flat", pem, `{"PrivateKeyPath":"/k.pem"}`, `{"PrivateKeyPath":"/k.pem"}`},
		{"nested value, any case", pem, `{"privatekeypath":{"value":"/k.pem"}}`, `{"PrivateKeyPath":"/k.pem"}`},
		{"unknown", pem, `{"Other":"x"}`, ""},
		{"not an object", pem, `["x"]`, ""},
		{"keystore type", jks, `{"KeystoreType":"PKCS12"}`, `{"KeystoreType":"PKCS12"}`},
		{"bad keystore type", jks, `{"KeystoreType":"BKS"}`, ""},
		{"required missing", custom, `{}`, ""},
		{"required and default", custom, `{"Needed":"x","Flag":true}`, `{"Def":"d","Flag":"true","Needed":"x"}`},
		{"bool property not bool", custom, `{"Needed":"x","Flag":"maybe"}`, ""},
		{"object without value", custom, `{"Needed":{"v":1}}`, ""},
	}
	for _, c := range cases {
		got, err := checkProperties(c.t, c.in)
		switch {
		case c.out == "" && err == nil:
			t.Errorf("%s: accepted as %s", c.name, got)
		case c.out == "" && errs.As(err).Field != "Properties":
			t.Errorf("%s: err %v does not name Properties", c.name, err)
		case c.out != "" && (err != nil || got != c.out):
			t.Errorf("%s: = %s, %v; want %s", c.name, got, err, c.out)
		}
	}
}

func TestAccess_ContainerScoped(t *testing.T) {
	c7, c8 := int64(7), int64(8)
	in7, in8, none := Store{ContainerID: &c7}, Store{ContainerID: &c8}, Store{}
	global := auth.NewPrincipal(1, "g", nil, []auth.Grant{{Permission: auth.StoresSchedule}})
	scoped := auth.NewPrincipal(2, "s", nil, []auth.Grant{{Permission: auth.StoresSchedule, Container: 7}, {Permission: auth.StoresRead, Container: 8}})
	cases := []struct {
		name string
		got  bool
		want bool
	}{
		{"global schedules anywhere", CanSchedule(global, in8) && CanSchedule(global, none), true},
		{"scoped schedules in its container", CanSchedule(scoped, in7), true},
		{"scoped does not schedule elsewhere", CanSchedule(scoped, in8), false},
		{"scoped does not schedule outside containers", CanSchedule(scoped, none), false},
		{"read grant is not schedule", CanRead(scoped, in8) && !CanModify(scoped, in8), true},
		{"nil principal", CanRead(nil, none), false},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	if rc := ReadableContainers(scoped); len(rc) != 1 || rc[0] != 8 {
		t.Errorf("ReadableContainers = %v", rc)
	}
	if rc := ReadableContainers(auth.NewPrincipal(3, "r", nil, []auth.Grant{{Permission: auth.StoresRead}})); rc != nil {
		t.Errorf("global reader: ReadableContainers = %v, want nil (all)", rc)
	}
}

func TestUUID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		u := NewUUID()
		if !IsUUID(u) || u[14] != '4' || seen[u] {
			t.Fatalf("NewUUID = %q", u)
		}
		seen[u] = true
	}
	for _, bad := range []string{"", "abc", "11111111-2222-4333-8444-55555555555", "11111111-2222-4333-8444-5555555555555", "g1111111-2222-4333-8444-555555555555"} {
		if IsUUID(bad) {
			t.Errorf("IsUUID(%q) = true", bad)
		}
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"", "I_60", "D_13:30", "O_2026-01-02T03:04:05Z", "IMMEDIATE", "I_-1", "D_99:99",
		"W_1,3_08:00", "W_0,0,6_23:59", "W_7_00:00", "M_31_10:00", "M_L_00:00", "M_0_01:00", "M_L"} {
		f.Add(s)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseSchedule(s)
		if err != nil {
			return
		}
		again, err := ParseSchedule(sc.String())
		if err != nil || again.String() != sc.String() {
			t.Fatalf("%q: String %q does not parse back: %v", s, sc.String(), err)
		}
		if n := sc.Next(at); n != nil && !n.After(at) {
			t.Fatalf("%q: Next %v is not after %v", s, n, at)
		}
	})
}

func FuzzCheckProperties(f *testing.F) {
	for _, s := range []string{"", "{}", `{"KeystoreType":"JKS"}`, `{"KeystoreType":{"value":"PKCS12"}}`, `{"a":1}`, `[`, `{"KeystoreType":null}`} {
		f.Add(s)
	}
	jks, _ := Builtin(TypeJKS)
	f.Fuzz(func(t *testing.T, s string) {
		out, err := checkProperties(jks, s)
		if err != nil {
			if errs.As(err).Field != "Properties" {
				t.Fatalf("%q: error %v does not name Properties", s, err)
			}
			return
		}
		// normalised output is accepted again unchanged
		again, err := checkProperties(jks, out)
		if err != nil || again != out {
			t.Fatalf("%q: normalised %s is not stable: %s, %v", s, out, again, err)
		}
	})
}

func ptrT(t time.Time) *time.Time { return &t }

func eqT(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}
