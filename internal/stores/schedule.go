package stores

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/errs"
)

// Schedule is an inventory schedule. Its text form is the CAgent one
// (what the agent protocol and the database carry):
//
//	""                       no schedule
//	"IMMEDIATE"              once, as soon as possible
//	"I_<minutes>"            every <minutes> minutes (1 to 525600)
//	"D_<HH:MM>"              daily at HH:MM UTC
//	"O_<RFC 3339 time>"      exactly once at that time
//
// The management API carries it as Keyfactor's schedule object
// ({"Interval":{"Minutes":60}}, {"Daily":{"Time":...}}, {"ExactlyOnce":{"Time":...}},
// {"Immediate":true}); ScheduleObject converts between the two.
type Schedule struct {
	Kind    string // "", "IMMEDIATE", "I", "D", "O"
	Minutes int
	At      time.Time // O: the time; D: only the hour and minute count
}

// ParseSchedule parses the text form.
func ParseSchedule(s string) (Schedule, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Schedule{}, nil
	case strings.EqualFold(s, "IMMEDIATE"):
		return Schedule{Kind: "IMMEDIATE"}, nil
	case strings.HasPrefix(s, "I_"):
		n, err := strconv.Atoi(s[2:])
		if err != nil || n < 1 || n > 525600 {
			return Schedule{}, fmt.Errorf("interval %q is not 1 to 525600 minutes", s[2:])
		}
		return Schedule{Kind: "I", Minutes: n}, nil
	case strings.HasPrefix(s, "D_"):
		t, err := time.Parse("15:04", s[2:])
		if err != nil {
			return Schedule{}, fmt.Errorf("daily time %q is not HH:MM", s[2:])
		}
		return Schedule{Kind: "D", At: t}, nil
	case strings.HasPrefix(s, "O_"):
		t, err := time.Parse(time.RFC3339, s[2:])
		if err != nil {
			return Schedule{}, fmt.Errorf("time %q is not RFC 3339", s[2:])
		}
		return Schedule{Kind: "O", At: t.UTC()}, nil
	}
	return Schedule{}, fmt.Errorf("%q is not a schedule (I_<minutes>, D_<HH:MM>, O_<time> or IMMEDIATE)", s)
}

// String is the text form.
func (s Schedule) String() string {
	switch s.Kind {
	case "IMMEDIATE":
		return "IMMEDIATE"
	case "I":
		return "I_" + strconv.Itoa(s.Minutes)
	case "D":
		return "D_" + s.At.Format("15:04")
	case "O":
		return "O_" + s.At.UTC().Format(time.RFC3339)
	}
	return ""
}

// Next returns the first run strictly after "after", or nil when the
// schedule will not run again. created anchors once-only schedules: an
// IMMEDIATE or past exactly-once schedule runs once, right after creation.
func (s Schedule) Next(after time.Time) *time.Time {
	after = after.UTC()
	var t time.Time
	switch s.Kind {
	case "I":
		t = after.Add(time.Duration(s.Minutes) * time.Minute)
	case "D":
		t = time.Date(after.Year(), after.Month(), after.Day(), s.At.Hour(), s.At.Minute(), 0, 0, time.UTC)
		if !t.After(after) {
			t = t.AddDate(0, 0, 1)
		}
	case "O":
		if !s.At.After(after) {
			return nil
		}
		t = s.At
	default:
		return nil
	}
	return &t
}

// First returns the first run of a schedule set at "now": IMMEDIATE and a
// past exactly-once run now; the others as Next.
func (s Schedule) First(now time.Time) *time.Time {
	now = now.UTC()
	switch s.Kind {
	case "IMMEDIATE":
		return &now
	case "O":
		if !s.At.After(now) {
			return &now
		}
	}
	return s.Next(now)
}

// ScheduleObject is Keyfactor's schedule JSON object.
type ScheduleObject struct {
	Immediate   *bool          `json:"Immediate,omitempty"`
	Interval    *IntervalModel `json:"Interval,omitempty"`
	Daily       *TimeModel     `json:"Daily,omitempty"`
	Weekly      any            `json:"Weekly,omitempty"`
	Monthly     any            `json:"Monthly,omitempty"`
	ExactlyOnce *TimeModel     `json:"ExactlyOnce,omitempty"`
}

// IntervalModel is {"Minutes": n}.
type IntervalModel struct {
	Minutes int `json:"Minutes"`
}

// TimeModel is {"Time": "..."}.
type TimeModel struct {
	Time string `json:"Time"`
}

// Object renders the schedule as Keyfactor's object, nil for none.
func (s Schedule) Object() *ScheduleObject {
	switch s.Kind {
	case "IMMEDIATE":
		t := true
		return &ScheduleObject{Immediate: &t}
	case "I":
		return &ScheduleObject{Interval: &IntervalModel{Minutes: s.Minutes}}
	case "D":
		d := time.Date(2000, 1, 1, s.At.Hour(), s.At.Minute(), 0, 0, time.UTC)
		return &ScheduleObject{Daily: &TimeModel{Time: d.Format(time.RFC3339)}}
	case "O":
		return &ScheduleObject{ExactlyOnce: &TimeModel{Time: s.At.UTC().Format(time.RFC3339)}}
	}
	return nil
}

// FromObject converts Keyfactor's schedule object; field names the request
// field for errors. Weekly and Monthly are not supported.
func FromObject(o *ScheduleObject, field string) (Schedule, error) {
	if o == nil {
		return Schedule{}, nil
	}
	n := 0
	var s Schedule
	if o.Immediate != nil && *o.Immediate {
		n++
		s = Schedule{Kind: "IMMEDIATE"}
	}
	if o.Interval != nil {
		n++
		if o.Interval.Minutes < 1 || o.Interval.Minutes > 525600 {
			return Schedule{}, errs.Field(field+".Interval.Minutes", "%d is not 1 to 525600", o.Interval.Minutes)
		}
		s = Schedule{Kind: "I", Minutes: o.Interval.Minutes}
	}
	if o.Daily != nil {
		n++
		t, err := time.Parse(time.RFC3339, o.Daily.Time)
		if err != nil {
			return Schedule{}, errs.Field(field+".Daily.Time", "%q is not an RFC 3339 time", o.Daily.Time)
		}
		s = Schedule{Kind: "D", At: t.UTC()}
	}
	if o.ExactlyOnce != nil {
		n++
		t, err := time.Parse(time.RFC3339, o.ExactlyOnce.Time)
		if err != nil {
			return Schedule{}, errs.Field(field+".ExactlyOnce.Time", "%q is not an RFC 3339 time", o.ExactlyOnce.Time)
		}
		s = Schedule{Kind: "O", At: t.UTC()}
	}
	if o.Weekly != nil || o.Monthly != nil {
		return Schedule{}, errs.Field(field, "Weekly and Monthly schedules are not supported; use Interval, Daily, ExactlyOnce or Immediate")
	}
	if n > 1 {
		return Schedule{}, errs.Field(field, "give exactly one of Immediate, Interval, Daily, ExactlyOnce")
	}
	return s, nil
}
