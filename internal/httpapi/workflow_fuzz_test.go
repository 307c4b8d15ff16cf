package httpapi

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/certdock/certdock/internal/workflow"
)

// FuzzWorkflowBodies decodes workflow request bodies and validates step
// lists: garbage is always a 4xx with Keyfactor's error body, never a 500
// or a panic.
func FuzzWorkflowBodies(f *testing.F) {
	for _, s := range []string{
		`[{"ExtensionName":"RequireApproval","UniqueName":"A","ConfigurationParameters":{"MinimumApprovals":2},"Signals":[{"SignalName":"ApprovalStatus","RoleIds":[1]}]}]`,
		`[{"ExtensionName":"RESTRequest","UniqueName":"R","ConfigurationParameters":{"URL":"https://x.example/h","Headers":{"A":"b"},"Verb":"put"}}]`,
		`[{"ExtensionName":"RequireApproval","UniqueName":"A","ConfigurationParameters":{"MinimumApprovals":"1e9"}}]`,
		`[{"ExtensionName":"RESTRequest","UniqueName":"R","ConfigurationParameters":{"URL":"https://x","Headers":{"A":1}}}]`,
		`[{"Conditions":[{"Value":"x"}]}]`, `{"SignalKey":"A.ApprovalStatus","Data":{"ApprovalStatus":"APPROVE"}}`,
		`{"Comment":"no","CertificateRequestIds":[1,2]}`, `[1,2,-3]`, `{"DisplayName":"d","Key":"Template:1"}`,
		``, `null`, `[`, `{"RoleIds":["x"]}`, `[{"Signals":[{"RoleIds":[1e400]}]}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := map[string]any{"steps": &[]wfStepReq{}, "signal": &wfSignalPost{}, "deny": &wfDenyReq{},
			"ids": &[]int64{}, "definition": &wfDefinitionReq{}}
		for name, v := range targets {
			r := httptest.NewRequest("POST", "/x", bytes.NewReader(body))
			if err := decode(r, v, false); err != nil {
				checkRendered(t, name, body, err)
				continue
			}
			switch x := v.(type) {
			case *[]wfStepReq:
				steps := make([]workflow.Step, 0, len(*x))
				for _, s := range *x {
					steps = append(steps, s.step())
				}
				if _, err := workflow.ValidateSteps(steps); err != nil {
					checkRendered(t, name, body, err)
				}
			case *[]int64:
				if err := checkRequestIDs("body", *x); err != nil {
					checkRendered(t, name, body, err)
				}
			case *wfDefinitionReq:
				if x.Key != nil {
					if _, _, err := workflow.ParseKey(*x.Key); err != nil {
						checkRendered(t, name, body, err)
					}
				}
			}
		}
	})
}
