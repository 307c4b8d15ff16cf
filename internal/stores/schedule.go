package stores

import (
	"fmt"
	"slices"
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
//	"W_<days>_<HH:MM>"       weekly on the given days at HH:MM UTC; days are
//	                         System.DayOfWeek numbers (0 Sunday .. 6 Saturday),
//	                         comma-separated, e.g. "W_1,3,5_08:00"
//	"M_<day>_<HH:MM>"        monthly on day 1 to 31 at HH:MM UTC; in a month
//	                         shorter than <day> it runs on the month's last day
//	"M_L_<HH:MM>"            monthly on the last day of the month
//	"O_<RFC 3339 time>"      exactly once at that time
//
// The management API carries it as Keyfactor's schedule object
// ({"Interval":{"Minutes":60}}, {"Daily":{"Time":...}}, {"Weekly":{"Days":[1,3],"Time":...}},
// {"Monthly":{"Day":31,"Time":...}}, {"ExactlyOnce":{"Time":...}}, {"Immediate":true});
// ScheduleObject converts between the two. The object has no "last day"
// form: M_L renders as Day 31, which runs on the same days.
type Schedule struct {
	Kind    string // "", "IMMEDIATE", "I", "D", "W", "M", "O"
	Minutes int
	At      time.Time      // O: the time; D, W, M: only the hour and minute count
	Days    []time.Weekday // W: sorted, no duplicates
	Day     int            // M: 1 to 31, or 0 for the last day of the month
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
	case strings.HasPrefix(s, "W_"):
		days, hm, ok := strings.Cut(s[2:], "_")
		if !ok {
			return Schedule{}, fmt.Errorf("weekly schedule %q is not W_<days>_<HH:MM>", s)
		}
		t, err := time.Parse("15:04", hm)
		if err != nil {
			return Schedule{}, fmt.Errorf("weekly time %q is not HH:MM", hm)
		}
		var ds []int
		for _, d := range strings.Split(days, ",") {
			n, err := strconv.Atoi(d)
			if err != nil || n < 0 || n > 6 {
				return Schedule{}, fmt.Errorf("day of week %q is not 0 (Sunday) to 6 (Saturday)", d)
			}
			ds = append(ds, n)
		}
		return Schedule{Kind: "W", At: t, Days: weekdays(ds)}, nil
	case strings.HasPrefix(s, "M_"):
		day, hm, ok := strings.Cut(s[2:], "_")
		if !ok {
			return Schedule{}, fmt.Errorf("monthly schedule %q is not M_<day>_<HH:MM> or M_L_<HH:MM>", s)
		}
		t, err := time.Parse("15:04", hm)
		if err != nil {
			return Schedule{}, fmt.Errorf("monthly time %q is not HH:MM", hm)
		}
		n := 0
		if day != "L" {
			n, err = strconv.Atoi(day)
			if err != nil || n < 1 || n > 31 {
				return Schedule{}, fmt.Errorf("day of month %q is not 1 to 31 or L", day)
			}
		}
		return Schedule{Kind: "M", At: t, Day: n}, nil
	case strings.HasPrefix(s, "O_"):
		t, err := time.Parse(time.RFC3339, s[2:])
		if err != nil {
			return Schedule{}, fmt.Errorf("time %q is not RFC 3339", s[2:])
		}
		return Schedule{Kind: "O", At: t.UTC()}, nil
	}
	return Schedule{}, fmt.Errorf("%q is not a schedule (I_<minutes>, D_<HH:MM>, W_<days>_<HH:MM>, M_<day>_<HH:MM>, O_<time> or IMMEDIATE)", s)
}

// weekdays sorts and de-duplicates day numbers already checked to be 0 to 6.
func weekdays(ds []int) []time.Weekday {
	var seen [7]bool
	for _, d := range ds {
		seen[d] = true
	}
	var out []time.Weekday
	for d, ok := range seen {
		if ok {
			out = append(out, time.Weekday(d))
		}
	}
	return out
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
	case "W":
		ds := make([]string, len(s.Days))
		for i, d := range s.Days {
			ds[i] = strconv.Itoa(int(d))
		}
		return "W_" + strings.Join(ds, ",") + "_" + s.At.Format("15:04")
	case "M":
		day := "L"
		if s.Day > 0 {
			day = strconv.Itoa(s.Day)
		}
		return "M_" + day + "_" + s.At.Format("15:04")
	case "O":
		return "O_" + s.At.UTC().Format(time.RFC3339)
	}
	return ""
}

// monthRun is the run of a monthly schedule in the month of (y, m): day
// Day, or the month's last day when the month is shorter or Day is 0.
func (s Schedule) monthRun(y int, m time.Month) time.Time {
	last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	d := s.Day
	if d == 0 || d > last {
		d = last
	}
	return time.Date(y, m, d, s.At.Hour(), s.At.Minute(), 0, 0, time.UTC)
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
	case "W":
		if len(s.Days) == 0 {
			return nil
		}
		day := time.Date(after.Year(), after.Month(), after.Day(), s.At.Hour(), s.At.Minute(), 0, 0, time.UTC)
		for i := 0; i <= 7; i++ {
			c := day.AddDate(0, 0, i)
			if c.After(after) && slices.Contains(s.Days, c.Weekday()) {
				return &c
			}
		}
		return nil
	case "M":
		t = s.monthRun(after.Year(), after.Month())
		if !t.After(after) {
			// time.Date normalises month 13 to January of the next year
			t = s.monthRun(after.Year(), after.Month()+1)
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
	Weekly      *WeeklyModel   `json:"Weekly,omitempty"`
	Monthly     *MonthlyModel  `json:"Monthly,omitempty"`
	ExactlyOnce *TimeModel     `json:"ExactlyOnce,omitempty"`
}

// IntervalModel is {"Minutes": n}.
type IntervalModel struct {
	Minutes int `json:"Minutes"`
}

// WeeklyModel is {"Days": [0..6, System.DayOfWeek], "Time": "..."}.
type WeeklyModel struct {
	Days []int  `json:"Days"`
	Time string `json:"Time"`
}

// MonthlyModel is {"Day": 1..31, "Time": "..."}.
type MonthlyModel struct {
	Day  int    `json:"Day"`
	Time string `json:"Time"`
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
	case "W":
		d := time.Date(2000, 1, 1, s.At.Hour(), s.At.Minute(), 0, 0, time.UTC)
		days := make([]int, len(s.Days))
		for i, w := range s.Days {
			days[i] = int(w)
		}
		return &ScheduleObject{Weekly: &WeeklyModel{Days: days, Time: d.Format(time.RFC3339)}}
	case "M":
		d := time.Date(2000, 1, 1, s.At.Hour(), s.At.Minute(), 0, 0, time.UTC)
		day := s.Day
		if day == 0 {
			day = 31 // the last day: a day past the month's end runs on its last day
		}
		return &ScheduleObject{Monthly: &MonthlyModel{Day: day, Time: d.Format(time.RFC3339)}}
	case "O":
		return &ScheduleObject{ExactlyOnce: &TimeModel{Time: s.At.UTC().Format(time.RFC3339)}}
	}
	return nil
}

// FromObject converts Keyfactor's schedule object; field names the request
// field for errors.
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
	if o.Weekly != nil {
		n++
		if len(o.Weekly.Days) == 0 {
			return Schedule{}, errs.Field(field+".Weekly.Days", "give at least one day (0 Sunday to 6 Saturday)")
		}
		for _, d := range o.Weekly.Days {
			if d < 0 || d > 6 {
				return Schedule{}, errs.Field(field+".Weekly.Days", "%d is not 0 (Sunday) to 6 (Saturday)", d)
			}
		}
		t, err := time.Parse(time.RFC3339, o.Weekly.Time)
		if err != nil {
			return Schedule{}, errs.Field(field+".Weekly.Time", "%q is not an RFC 3339 time", o.Weekly.Time)
		}
		s = Schedule{Kind: "W", At: t.UTC(), Days: weekdays(o.Weekly.Days)}
	}
	if o.Monthly != nil {
		n++
		if o.Monthly.Day < 1 || o.Monthly.Day > 31 {
			return Schedule{}, errs.Field(field+".Monthly.Day", "%d is not 1 to 31", o.Monthly.Day)
		}
		t, err := time.Parse(time.RFC3339, o.Monthly.Time)
		if err != nil {
			return Schedule{}, errs.Field(field+".Monthly.Time", "%q is not an RFC 3339 time", o.Monthly.Time)
		}
		s = Schedule{Kind: "M", At: t.UTC(), Day: o.Monthly.Day}
	}
	if n > 1 {
		return Schedule{}, errs.Field(field, "give exactly one of Immediate, Interval, Daily, Weekly, Monthly, ExactlyOnce")
	}
	return s, nil
}
