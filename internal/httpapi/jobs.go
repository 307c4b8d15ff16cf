package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/jobs"
	"github.com/certdock/certdock/internal/stores"
)

// scheduledJobDTO is SDK v25 CSSCMSDataModelModelsOrchestratorJobsJob.
type scheduledJobDTO struct {
	Id            string                 `json:"Id"`
	ClientMachine string                 `json:"ClientMachine"`
	Target        string                 `json:"Target"`
	Schedule      *stores.ScheduleObject `json:"Schedule"`
	Requested     string                 `json:"Requested"`
	JobType       string                 `json:"JobType"`
}

// jobHistoryDTO is SDK v25 CertificateStoresJobHistoryResponse.
type jobHistoryDTO struct {
	JobHistoryId   int64                  `json:"JobHistoryId"`
	AgentMachine   string                 `json:"AgentMachine"`
	JobId          string                 `json:"JobId"`
	Schedule       *stores.ScheduleObject `json:"Schedule"`
	JobType        string                 `json:"JobType"`
	OperationStart string                 `json:"OperationStart"`
	OperationEnd   *string                `json:"OperationEnd"`
	Message        string                 `json:"Message"`
	Result         int                    `json:"Result"`
	Status         int                    `json:"Status"`
	StorePath      string                 `json:"StorePath"`
	ClientMachine  string                 `json:"ClientMachine"`
}

// jobTypeName names a job "<store type short name><operation>", e.g. "JKSAdd".
func (a *API) jobTypeNamer(ctx context.Context) func(storeType int, op jobs.Operation) string {
	names := map[int]string{}
	return func(storeType int, op jobs.Operation) string {
		n, ok := names[storeType]
		if !ok {
			if t, err := a.o.Stores.StoreType(ctx, storeType); err == nil {
				n = t.ShortName
			}
			names[storeType] = n
		}
		return n + op.String()
	}
}

// dueSchedule shows a job's due time: Immediate when it was due on creation.
func dueSchedule(due, created time.Time) *stores.ScheduleObject {
	if !due.After(created) {
		t := true
		return &stores.ScheduleObject{Immediate: &t}
	}
	return &stores.ScheduleObject{ExactlyOnce: &stores.TimeModel{Time: ts(due)}}
}

func (a *API) listScheduledJobs(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	js, err := a.o.Jobs.ScheduledJobs(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	name := a.jobTypeNamer(r.Context())
	out := make([]scheduledJobDTO, 0, len(js))
	for _, j := range js {
		out = append(out, scheduledJobDTO{Id: j.Job.ID, ClientMachine: j.ClientMachine, Target: j.StorePath,
			Schedule: dueSchedule(j.DueAt, j.CreatedAt), Requested: ts(j.CreatedAt), JobType: name(j.StoreType, j.Operation)})
	}
	return writeJSON(w, out)
}

func (a *API) listJobHistory(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	hs, err := a.o.Jobs.History(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	name := a.jobTypeNamer(r.Context())
	out := make([]jobHistoryDTO, 0, len(hs))
	for _, h := range hs {
		end := h.OperationEnd
		out = append(out, jobHistoryDTO{JobHistoryId: h.ID, AgentMachine: h.ClientMachine, JobId: h.JobID,
			JobType: name(h.StoreType, h.Operation), OperationStart: ts(h.OperationStart), OperationEnd: tsp(&end),
			Message: h.Message, Result: h.Status, Status: h.JobStatus(), StorePath: h.StorePath, ClientMachine: h.ClientMachine})
	}
	return writeJSON(w, out)
}
