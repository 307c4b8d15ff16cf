package orchestrator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxBody caps a request body: the largest is an inventory report of a
// big store (MaxInventoryItems entries of a few certificates each would be
// far more; such stores report in one body up to this size).
const maxBody = 32 << 20

// maxSmallBody caps every other body, and an inventory report from a
// caller whose client certificate is not a current agent's: the bodies are
// decoded before the caller is authenticated, so anyone reaching the port
// must not make the server read and decode 32 MiB per request. The largest
// of them (a registration: a CSR of at most 16 KiB, 64 capabilities) is far
// below it.
const maxSmallBody = 1 << 20

// Handler serves the protocol under Prefix. Every call is a POST with a
// JSON body; answers are JSON with a Result. Paths match
// case-insensitively.
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	path := strings.TrimPrefix(strings.ToLower(r.URL.Path), strings.ToLower(Prefix))
	path = strings.TrimSuffix(path, "/")
	status := http.StatusOK
	defer func() {
		s.o.Logger.Info("agent request", "path", r.URL.Path, "status", status, "duration_ms", time.Since(start).Milliseconds())
	}()
	if !strings.EqualFold(r.Method, http.MethodPost) {
		w.Header().Set("Allow", "POST")
		status = http.StatusMethodNotAllowed
		writeJSON(w, status, ResultResponse{Result: ResultOf(fail(CodeBadRequest, "the agent protocol takes POST only"))})
		return
	}
	c := Caller{Authorization: r.Header.Get("Authorization")}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		c.Cert = r.TLS.PeerCertificates[0]
	}
	ctx := r.Context()
	limit := int64(maxSmallBody)
	if path == strings.ToLower(PathInventoryEndpoint) && c.Cert != nil {
		if _, err := s.clientAgent(ctx, c.Cert); err == nil {
			limit = maxBody
		}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	var resp any
	var err error
	switch path {
	case strings.ToLower(PathRegister):
		var req RegisterRequest
		if err = decode(body, &req); err == nil {
			resp, err = s.Register(ctx, c, req)
		}
	case strings.ToLower(PathHeartbeat):
		var req HeartbeatRequest
		if err = decode(body, &req); err == nil {
			resp, err = s.Heartbeat(ctx, c, req)
		}
	case strings.ToLower(PathManagementConfig):
		var req JobRequest
		if err = decode(body, &req); err == nil {
			resp, err = s.ManagementConfig(ctx, c, req)
		}
	case strings.ToLower(PathInventoryConfig):
		var req JobRequest
		if err = decode(body, &req); err == nil {
			resp, err = s.InventoryConfig(ctx, c, req)
		}
	case strings.ToLower(PathInventoryEndpoint):
		var req InventoryRequest
		if err = decode(body, &req); err == nil {
			resp, err = s.SubmitInventory(ctx, c, req)
		}
	case strings.ToLower(PathManagementDone), strings.ToLower(PathInventoryDone):
		var req CompleteRequest
		if err = decode(body, &req); err == nil {
			resp, err = s.Complete(ctx, c, req)
		}
	default:
		status = http.StatusNotFound
		writeJSON(w, status, ResultResponse{Result: ResultOf(fail(CodeBadRequest, "no agent endpoint %s", r.URL.Path))})
		return
	}
	if err != nil {
		var f *Failure
		switch {
		case errors.As(err, &f):
			if f.HTTP != 0 {
				status = f.HTTP
			}
			s.o.Logger.Warn("agent request refused", "path", r.URL.Path, "code", f.Code, "message", f.Message)
		default:
			status = http.StatusInternalServerError
			s.o.Logger.Error("agent request failed", "path", r.URL.Path, "err", err)
		}
		writeJSON(w, status, ResultResponse{Result: ResultOf(err)})
		return
	}
	writeJSON(w, status, resp)
}

// decode reads one JSON object; a malformed body is a 400 naming the problem.
func decode(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &Failure{Code: CodeBadRequest, Message: "body: larger than the limit", HTTP: http.StatusRequestEntityTooLarge}
		}
		return &Failure{Code: CodeBadRequest, Message: "body: not a JSON object of the expected shape: " + err.Error(), HTTP: http.StatusBadRequest}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
