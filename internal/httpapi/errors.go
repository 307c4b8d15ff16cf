package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/query"
)

// errorBody is Keyfactor's error response.
type errorBody struct {
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
}

// status maps an error kind to its HTTP status. This is the only place it
// happens.
func status(k errs.Kind) int {
	switch k {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Unauthenticated:
		return http.StatusUnauthorized
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.Conflict:
		return http.StatusConflict
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var qe *query.Error
	if errors.As(err, &qe) {
		err = errs.Field(qe.Param, "%s", qe.Msg)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = errs.E(errs.Invalid, errs.CodeValidation, "the request body is larger than %d bytes", mbe.Limit)
	}
	e := errs.As(err)
	code := status(e.Kind)
	msg := e.Message
	if e.Kind == errs.Internal {
		a.o.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err.Error())
		msg = "An unexpected error occurred on the server."
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(errorBody{ErrorCode: e.Code, Message: msg})
}
