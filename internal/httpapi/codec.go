package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/errs"
)

// decode reads a JSON body into v. Field names match case-insensitively
// (encoding/json's rule, as the vendor's server binds them); unknown fields
// are ignored; an empty body or "null" leaves v as it is when allowEmpty.
func decode(r *http.Request, v any, allowEmpty bool) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		if allowEmpty {
			return nil
		}
		return errs.E(errs.Invalid, errs.CodeValidation, "the request body is required")
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "body"
			}
			return errs.Field(field, "expected a JSON %s, got %s", jsonKind(te.Type.Kind().String()), te.Value)
		case errors.As(err, &se):
			return errs.E(errs.Invalid, errs.CodeValidation, "the request body is not valid JSON (at byte %d): %v", se.Offset, se)
		case strings.HasPrefix(err.Error(), "field "):
			// errors from custom UnmarshalJSON carry their own field names
			return errs.E(errs.Invalid, errs.CodeValidation, "%v", err)
		}
		var fe *errs.Error
		if errors.As(err, &fe) {
			return fe
		}
		return errs.E(errs.Invalid, errs.CodeValidation, "the request body is not valid: %v", err)
	}
	return nil
}

// decodeAs decodes a required body as a D and turns it into the domain
// request with toRequest, which validates the fields (a DTO's toRequest
// method expression, as in decodeAs(r, deployReq.toRequest)).
func decodeAs[D, R any](r *http.Request, toRequest func(D) (R, error)) (R, error) {
	var d D
	if err := decode(r, &d, false); err != nil {
		var zero R
		return zero, err
	}
	return toRequest(d)
}

func jsonKind(k string) string {
	switch k {
	case "int", "int32", "int64", "uint", "uint32", "uint64", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "slice":
		return "array"
	case "map", "struct":
		return "object"
	}
	return k
}

// writeJSON writes a 200 response.
func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errs.Wrap(err, "encoding response")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}

// noContent writes a 204.
func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// pathID parses a numeric path wildcard.
func pathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, errs.Field(name, "%q is not a positive integer id", v)
	}
	return id, nil
}

// queryValue reads a query parameter case-insensitively.
func queryValue(q url.Values, name string) (string, bool) {
	for k, vs := range q {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0], true
		}
	}
	return "", false
}

// queryBool reads a boolean query parameter.
func queryBool(q url.Values, name string, def bool) (bool, error) {
	v, ok := queryValue(q, name)
	if !ok || v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def, errs.Field(name, "%q is not true or false", v)
	}
	return b, nil
}

// ts formats a time the way clients parse it: RFC 3339, UTC, with zone.
func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// tsp formats an optional time.
func tsp(t *time.Time) *string {
	if t == nil || t.IsZero() {
		return nil
	}
	s := ts(*t)
	return &s
}

func ptr[T any](v T) *T { return &v }

// mapList converts a list with to (domain values to their DTOs); the result
// is never nil, so an empty list renders as [].
func mapList[T, D any](items []T, to func(T) D) []D {
	out := make([]D, 0, len(items))
	for _, it := range items {
		out = append(out, to(it))
	}
	return out
}

func idString(id int64) string { return fmt.Sprint(id) }

// queryInt reads an integer query parameter.
func queryInt(q url.Values, name string) (int64, error) {
	v, _ := queryValue(q, name)
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, errs.Field(name, "%q is not an integer", v)
	}
	return n, nil
}

// checkCollectionID validates the optional collectionId query parameter
// (a certificate collection id, sent by the go-client only when set). An
// absent or empty value means no collection, as ASP.NET binds an empty
// int? to null; anything else must be an integer. certdock has no
// collections, so a valid id does not narrow the result.
func checkCollectionID(r *http.Request) error {
	if v, ok := queryValue(r.URL.Query(), "collectionId"); !ok || strings.TrimSpace(v) == "" {
		return nil
	}
	_, err := queryInt(r.URL.Query(), "collectionId")
	return err
}
