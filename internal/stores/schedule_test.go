package stores

import (
	"encoding/json"
	"testing"
	"time"
)

func utc(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, time.UTC)
}

// TestSchedule_WeeklyMonthly drives Next with a fake clock across week
// boundaries, month ends, a leap February and a year end.
func TestSchedule_WeeklyMonthly(t *testing.T) {
	// 2026-03-01 is a Sunday.
	cases := []struct {
		sched string
		after time.Time
		want  *time.Time
	}{
		{"W_1,3_08:00", utc(2026, 3, 1, 12, 30), ptrT(utc(2026, 3, 2, 8, 0))},  // Sunday -> Monday
		{"W_1,3_08:00", utc(2026, 3, 2, 8, 0), ptrT(utc(2026, 3, 4, 8, 0))},    // exactly at Monday's run -> Wednesday
		{"W_1,3_08:00", utc(2026, 3, 2, 7, 59), ptrT(utc(2026, 3, 2, 8, 0))},   // just before -> today
		{"W_1,3_08:00", utc(2026, 3, 4, 9, 0), ptrT(utc(2026, 3, 9, 8, 0))},    // after Wednesday -> next Monday
		{"W_0_12:30", utc(2026, 3, 1, 12, 30), ptrT(utc(2026, 3, 8, 12, 30))},  // only day, at its time -> a week later
		{"W_6_23:00", utc(2026, 12, 31, 23, 30), ptrT(utc(2027, 1, 2, 23, 0))}, // across the year end
		{"M_15_00:00", utc(2026, 12, 20, 0, 0), ptrT(utc(2027, 1, 15, 0, 0))},  // December -> next January
		{"M_15_00:00", utc(2026, 3, 14, 23, 59), ptrT(utc(2026, 3, 15, 0, 0))},
		{"M_31_10:00", utc(2026, 1, 31, 10, 0), ptrT(utc(2026, 2, 28, 10, 0))}, // February is shorter: its last day
		{"M_31_10:00", utc(2026, 2, 28, 10, 0), ptrT(utc(2026, 3, 31, 10, 0))},
		{"M_31_10:00", utc(2026, 4, 1, 0, 0), ptrT(utc(2026, 4, 30, 10, 0))},
		{"M_30_10:00", utc(2028, 1, 31, 0, 0), ptrT(utc(2028, 2, 29, 10, 0))}, // leap year
		{"M_29_10:00", utc(2026, 2, 1, 0, 0), ptrT(utc(2026, 2, 28, 10, 0))},
		{"M_L_23:59", utc(2026, 4, 15, 0, 0), ptrT(utc(2026, 4, 30, 23, 59))},
		{"M_L_23:59", utc(2026, 12, 31, 23, 59), ptrT(utc(2027, 1, 31, 23, 59))},
		{"M_L_00:00", utc(2028, 2, 28, 0, 0), ptrT(utc(2028, 2, 29, 0, 0))},
		{"M_L_00:00", utc(2026, 1, 31, 0, 0), ptrT(utc(2026, 2, 28, 0, 0))},
	}
	for _, c := range cases {
		s, err := ParseSchedule(c.sched)
		if err != nil {
			t.Fatalf("ParseSchedule(%q): %v", c.sched, err)
		}
		if s.String() != c.sched {
			t.Errorf("%q: String = %q", c.sched, s.String())
		}
		if got := s.Next(c.after); !eqT(got, c.want) {
			t.Errorf("%q after %v: Next = %v, want %v", c.sched, c.after, got, c.want)
		}
		// First of a recurring schedule is its next run.
		if got := s.First(c.after); !eqT(got, c.want) {
			t.Errorf("%q at %v: First = %v, want %v", c.sched, c.after, got, c.want)
		}
	}
}

// TestSchedule_MonthlyLastDayYear steps a fake clock through a year of runs.
func TestSchedule_MonthlyLastDayYear(t *testing.T) {
	s, _ := ParseSchedule("M_L_06:00")
	now := utc(2027, 12, 31, 12, 0)
	var got []string
	for i := 0; i < 13; i++ {
		n := s.Next(now)
		if n == nil {
			t.Fatal("Next = nil")
		}
		got = append(got, n.Format("01-02"))
		now = *n
	}
	want := "01-31 02-29 03-31 04-30 05-31 06-30 07-31 08-31 09-30 10-31 11-30 12-31 01-31"
	if g := join(got); g != want {
		t.Errorf("runs = %s\nwant   %s", g, want)
	}
	w, _ := ParseSchedule("W_2,4_12:00") // Tuesdays and Thursdays
	now = utc(2026, 3, 1, 0, 0)
	got = nil
	for i := 0; i < 5; i++ {
		n := w.Next(now)
		got = append(got, n.Format("Mon 01-02 15:04"))
		now = *n
	}
	if g, want := join(got), "Tue 03-03 12:00 Thu 03-05 12:00 Tue 03-10 12:00 Thu 03-12 12:00 Tue 03-17 12:00"; g != want {
		t.Errorf("weekly runs = %s\nwant %s", g, want)
	}
}

func join(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out
}

// TestSchedule_WeeklyMonthlyObjects checks the management API's JSON shape
// (the SDK's KeyfactorCommonSchedulingModelsWeeklyModel / MonthlyModel) both ways.
func TestSchedule_WeeklyMonthlyObjects(t *testing.T) {
	cases := []struct {
		json, text, back string
	}{
		{`{"Weekly":{"Days":[5,1,1],"Time":"2023-06-01T08:15:00Z"}}`, "W_1,5_08:15", `{"Weekly":{"Days":[1,5],"Time":"2000-01-01T08:15:00Z"}}`},
		{`{"Weekly":{"Days":[0],"Time":"2023-06-01T10:15:00+02:00"}}`, "W_0_08:15", `{"Weekly":{"Days":[0],"Time":"2000-01-01T08:15:00Z"}}`},
		{`{"Monthly":{"Day":31,"Time":"2023-06-01T23:00:00Z"}}`, "M_31_23:00", `{"Monthly":{"Day":31,"Time":"2000-01-01T23:00:00Z"}}`},
		{`{"Monthly":{"Day":1,"Time":"2023-06-01T00:05:00.5Z"}}`, "M_1_00:05", `{"Monthly":{"Day":1,"Time":"2000-01-01T00:05:00Z"}}`},
	}
	for _, c := range cases {
		var o ScheduleObject
		if err := json.Unmarshal([]byte(c.json), &o); err != nil {
			t.Fatal(err)
		}
		s, err := FromObject(&o, "InventorySchedule")
		if err != nil {
			t.Fatalf("%s: %v", c.json, err)
		}
		if s.String() != c.text {
			t.Errorf("%s: text = %q, want %q", c.json, s.String(), c.text)
		}
		b, _ := json.Marshal(s.Object())
		if string(b) != c.back {
			t.Errorf("%s: object = %s, want %s", c.text, b, c.back)
		}
	}
	// M_L has no object form of its own: it shows as Day 31, which runs on the same days.
	l, _ := ParseSchedule("M_L_07:00")
	b, _ := json.Marshal(l.Object())
	if string(b) != `{"Monthly":{"Day":31,"Time":"2000-01-01T07:00:00Z"}}` {
		t.Errorf("M_L object = %s", b)
	}
	back, _ := FromObject(l.Object(), "S")
	for at := utc(2026, 1, 1, 0, 0); at.Year() < 2029; at = at.AddDate(0, 0, 9) {
		if !eqT(back.Next(at), l.Next(at)) {
			t.Fatalf("after %v: M_31 runs %v, M_L runs %v", at, back.Next(at), l.Next(at))
		}
	}
}
