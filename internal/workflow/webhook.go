package workflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// event is one state change, sent as JSON to the configured notification
// URL and (as the default body) by RESTRequest steps.
type event struct {
	url, method string
	headers     map[string]string
	body        string
}

// Event is the JSON body of a workflow notification.
type Event struct {
	Event                string
	InstanceId           string
	KeyfactorRequestId   int64
	WorkflowDefinitionId string `json:",omitempty"`
	Step                 string `json:",omitempty"`
	Status               string
	StatusMessage        string `json:",omitempty"`
	Requester            string
	Actor                string `json:",omitempty"`
	Comment              string `json:",omitempty"`
	CertificateId        *int64 `json:",omitempty"`
	At                   time.Time
}

func (s *Service) body(in Instance, name, step, actor, comment string) string {
	return mustJSON(Event{Event: name, InstanceId: in.ID, KeyfactorRequestId: in.RequestID, WorkflowDefinitionId: in.DefinitionID,
		Step: step, Status: in.Status.String(), StatusMessage: in.StatusMessage, Requester: in.RequesterName, Actor: actor,
		Comment: comment, CertificateId: in.CertificateID, At: s.now()})
}

// eventOf is a notification to NotifyURL; empty when none is configured.
func (s *Service) eventOf(in Instance, name, actor, comment string) event {
	if s.o.NotifyURL == "" {
		return event{}
	}
	return event{url: s.o.NotifyURL, method: http.MethodPost, body: s.body(in, name, "", actor, comment)}
}

// stepEvent is a RESTRequest step's request.
func (s *Service) stepEvent(in Instance, st Step, actor string) event {
	u, _ := st.ConfigurationParameters["URL"].(string)
	verb, _ := st.ConfigurationParameters["Verb"].(string)
	if verb == "" {
		verb = http.MethodPost
	}
	h := map[string]string{}
	if m, ok := st.ConfigurationParameters["Headers"].(map[string]any); ok {
		for k, v := range m {
			h[k], _ = v.(string)
		}
	}
	b, ok := st.ConfigurationParameters["RequestContent"].(string)
	if !ok || b == "" {
		b = s.body(in, "Step", st.UniqueName, actor, "")
	}
	return event{url: u, method: verb, headers: h, body: b}
}

// enqueue writes events to the outbox inside the caller's transaction, so a
// notification exists exactly when its state change committed.
func (s *Service) enqueue(ctx context.Context, st Store, in Instance, evs []event) error {
	now := s.now()
	for _, e := range evs {
		if e.url == "" {
			continue
		}
		if err := st.EnqueueWebhook(ctx, Webhook{InstanceID: in.ID, URL: e.url, Method: e.method, Headers: e.headers, Body: e.body,
			NextAt: now, State: WebhookPending, CreatedAt: now}); err != nil {
			return err
		}
	}
	return nil
}

// Kick wakes the background loop (new webhooks to send).
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// SendDue sends the webhooks that are due. A 2xx answer marks one sent;
// anything else retries after WebhookBackoff·2^(attempts-1), capped at an
// hour, until WebhookAttempts is reached.
func (s *Service) SendDue(ctx context.Context) (sent int, err error) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	due, err := s.o.Store.DueWebhooks(ctx, s.now(), 50)
	if err != nil {
		return 0, err
	}
	for _, w := range due {
		perr := s.post(ctx, w)
		w.Attempts++
		if perr == nil {
			w.State, w.LastError = WebhookSent, ""
			sent++
		} else {
			w.LastError = perr.Error()
			if len(w.LastError) > 500 {
				w.LastError = w.LastError[:500]
			}
			if w.Attempts >= s.o.WebhookAttempts {
				w.State = WebhookFailed
				s.o.Logger.Warn("workflow webhook given up", "id", w.ID, "url", redactURL(w.URL), "attempts", w.Attempts, "err", perr)
			} else {
				d := s.o.WebhookBackoff << (w.Attempts - 1)
				if d > time.Hour || d <= 0 {
					d = time.Hour
				}
				w.NextAt = s.now().Add(d)
			}
		}
		if err := s.o.Store.UpdateWebhook(ctx, w); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

func (s *Service) post(ctx context.Context, w Webhook) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, w.Method, w.URL, bytes.NewReader([]byte(w.Body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "certdock-workflow")
	req.Header.Set("X-Certdock-Webhook-Id", fmt.Sprint(w.ID))
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	resp, err := s.o.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = redactURL(ue.URL)
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s answered %s", w.Method, redactURL(w.URL), resp.Status)
	}
	return nil
}

// Run is the background loop: it sends due webhooks, expires stale
// requests and resumes approved-but-unissued ones, every Tick and whenever
// kicked, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.o.Tick)
	defer t.Stop()
	s.RunOnce(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		s.RunOnce(ctx)
	}
}

// RunOnce does one pass of the background work.
func (s *Service) RunOnce(ctx context.Context) {
	if n, err := s.Expire(ctx); err != nil {
		s.o.Logger.Error("workflow expiry", "err", err)
	} else if n > 0 {
		s.o.Logger.Info("workflow requests expired", "count", n)
	}
	if err := s.Resume(ctx); err != nil {
		s.o.Logger.Error("workflow resume", "err", err)
	}
	if _, err := s.SendDue(ctx); err != nil && ctx.Err() == nil {
		s.o.Logger.Error("workflow webhooks", "err", err)
	}
}

// redactURL drops what a webhook URL may carry as a credential (user
// information, query, fragment) before it goes into a log line or the
// stored last error: receivers often take a token in the query.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}
