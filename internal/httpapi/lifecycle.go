package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/keystore"
	"github.com/certdock/certdock/internal/policy"
	"github.com/certdock/certdock/internal/retrieve"
)

// ---- POST /Enrollment/CSR ----

type csrReq struct {
	CSR                        *string
	PrivateKey                 *string
	CertificateAuthority       string
	Template                   string
	EnrollmentPatternId        int64
	IncludeChain               *bool
	IncludeSubjectHeader       *bool
	Metadata                   metadataMap
	AdditionalEnrollmentFields fieldsMap
	Timestamp                  *string
	OwnerRoleId                int64
	OwnerRoleName              string
	SANs                       sansMap
}

type pkcs10ResponseDTO struct {
	SerialNumber        string            `json:"SerialNumber"`
	IssuerDN            string            `json:"IssuerDN"`
	Thumbprint          string            `json:"Thumbprint"`
	KeyfactorID         int64             `json:"KeyfactorID"`
	Certificates        []string          `json:"Certificates"`
	WorkflowInstanceId  string            `json:"WorkflowInstanceId"`
	WorkflowReferenceId int64             `json:"WorkflowReferenceId"`
	KeyfactorRequestId  int64             `json:"KeyfactorRequestId"`
	RequestDisposition  string            `json:"RequestDisposition"`
	DispositionMessage  string            `json:"DispositionMessage"`
	EnrollmentContext   map[string]string `json:"EnrollmentContext"`
}

type csrResponseDTO struct {
	CertificateInformation pkcs10ResponseDTO `json:"CertificateInformation"`
	Metadata               map[string]string `json:"Metadata"`
}

// requiredFormat reads x-certificateformat, which the route requires.
func requiredFormat(r *http.Request, allowed string) (string, error) {
	f := strings.ToUpper(strings.TrimSpace(r.Header.Get("x-certificateformat")))
	if f == "" {
		return "", errs.Field("x-certificateformat", "the header is required (%s)", allowed)
	}
	return f, nil
}

func (a *API) postEnrollCSR(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if _, err := apiVersion(r); err != nil {
		return err
	}
	format, err := requiredFormat(r, "PEM or DER")
	if err != nil {
		return err
	}
	var q csrReq
	if err := decode(r, &q, false); err != nil {
		return err
	}
	if q.CSR == nil || strings.TrimSpace(*q.CSR) == "" {
		return errs.Field("CSR", "is required (a PEM or base64 PKCS#10 request)")
	}
	if q.PrivateKey != nil && strings.TrimSpace(*q.PrivateKey) != "" {
		return errs.Field("PrivateKey", "is not accepted: certdock never takes a client's private key with a CSR enrollment")
	}
	if q.Timestamp == nil || strings.TrimSpace(*q.Timestamp) == "" {
		return errs.Field("Timestamp", "is required (ISO 8601 UTC, e.g. 2023-11-19T16:23:01Z)")
	}
	ts, err := parseTimestamp("Timestamp", *q.Timestamp)
	if err != nil {
		return err
	}
	req := enroll.CSRRequest{
		Format: enroll.Format(format), CSR: []byte(*q.CSR), Template: strings.TrimSpace(q.Template),
		EnrollmentPatternID: q.EnrollmentPatternId, CertificateAuthority: strings.TrimSpace(q.CertificateAuthority),
		SANs: q.SANs, Metadata: q.Metadata, AdditionalEnrollmentFields: q.AdditionalEnrollmentFields,
		OwnerRoleID: q.OwnerRoleId, OwnerRoleName: strings.TrimSpace(q.OwnerRoleName), Timestamp: ts,
		IncludeChain: q.IncludeChain != nil && *q.IncludeChain,
	}
	res, err := a.o.Enroll.EnrollCSR(r.Context(), p, req)
	if err != nil {
		return err
	}
	out := csrResponseDTO{
		CertificateInformation: pkcs10ResponseDTO{
			SerialNumber: res.SerialNumber, IssuerDN: res.IssuerDN, Thumbprint: res.Thumbprint, KeyfactorID: res.CertificateID,
			Certificates: res.Certificates, WorkflowInstanceId: zeroGUID, KeyfactorRequestId: res.RequestID,
			RequestDisposition: res.Disposition, DispositionMessage: res.DispositionMessage, EnrollmentContext: res.EnrollmentContext,
		},
		Metadata: res.Metadata,
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	return writeJSON(w, out)
}

// ---- POST /Enrollment/CSR/Parse ----

// postParseCSR takes {"CSR": "..."} (the SDK's CSRContents) or a bare JSON
// string.
func (a *API) postParseCSR(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	body = bytes.TrimSpace(body)
	var csr string
	if len(body) > 0 && body[0] == '"' {
		if err := json.Unmarshal(body, &csr); err != nil {
			return errs.Field("CSR", "the body is not a valid JSON string")
		}
	} else {
		var q struct{ CSR *string }
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := decode(r, &q, false); err != nil {
			return err
		}
		if q.CSR != nil {
			csr = *q.CSR
		}
	}
	if strings.TrimSpace(csr) == "" {
		return errs.Field("CSR", "is required")
	}
	out, err := enroll.ParseCSR([]byte(csr))
	if err != nil {
		return err
	}
	return writeJSON(w, out)
}

// ---- POST /Enrollment/Renew, GET /Enrollment/AvailableRenewal ----

type renewReq struct {
	CertificateId        *int64
	Thumbprint           *string
	CertificateAuthority *string
	Template             *string
	Timestamp            *string
	EnrollmentPatternId  *int64
}

type renewResponseDTO struct {
	KeyfactorId        int64  `json:"KeyfactorId"`
	KeyfactorRequestId int64  `json:"KeyfactorRequestId"`
	Thumbprint         string `json:"Thumbprint"`
	SerialNumber       string `json:"SerialNumber"`
	IssuerDN           string `json:"IssuerDN"`
	RequestDisposition string `json:"RequestDisposition"`
	DispositionMessage string `json:"DispositionMessage"`
	Password           string `json:"Password"`
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (a *API) postRenew(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q renewReq
	if err := decode(r, &q, false); err != nil {
		return err
	}
	req := enroll.RenewRequest{
		CertificateID: deref(q.CertificateId), Thumbprint: strings.TrimSpace(deref(q.Thumbprint)),
		CertificateAuthority: strings.TrimSpace(deref(q.CertificateAuthority)), Template: strings.TrimSpace(deref(q.Template)),
		EnrollmentPatternID: deref(q.EnrollmentPatternId),
	}
	if q.Timestamp != nil && strings.TrimSpace(*q.Timestamp) != "" {
		t, err := parseTimestamp("Timestamp", *q.Timestamp)
		if err != nil {
			return err
		}
		req.Timestamp = t
	} else {
		req.Timestamp = a.o.Now().UTC().Truncate(time.Second)
	}
	res, err := a.o.Enroll.Renew(r.Context(), p, req)
	if err != nil {
		return err
	}
	return writeJSON(w, renewResponseDTO{
		KeyfactorId: res.CertificateID, KeyfactorRequestId: res.RequestID, Thumbprint: res.Thumbprint,
		SerialNumber: res.SerialNumber, IssuerDN: res.IssuerDN, RequestDisposition: res.Disposition,
		DispositionMessage: res.DispositionMessage, Password: res.Password,
	})
}

type availableRenewalDTO struct {
	AvailableRenewalType int    `json:"AvailableRenewalType"`
	Message              string `json:"Message"`
}

func (a *API) getAvailableRenewalByID(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	t, msg, err := a.o.Enroll.AvailableRenewal(r.Context(), p, id, "")
	if err != nil {
		return err
	}
	return writeJSON(w, availableRenewalDTO{AvailableRenewalType: int(t), Message: msg})
}

func (a *API) getAvailableRenewalByThumbprint(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	tp := strings.TrimSpace(r.PathValue("tp"))
	if len(tp) != 40 || strings.Trim(strings.ToUpper(tp), "0123456789ABCDEF") != "" {
		return errs.Field("thumbprint", "%q is not 40 hexadecimal digits", tp)
	}
	t, msg, err := a.o.Enroll.AvailableRenewal(r.Context(), p, 0, tp)
	if err != nil {
		return err
	}
	return writeJSON(w, availableRenewalDTO{AvailableRenewalType: int(t), Message: msg})
}

// ---- POST /Certificates/Download, POST /Certificates/Recover ----

type retrieveReq struct {
	CertID               *int64 // CertId matches too: names match case-insensitively
	SerialNumber         *string
	IssuerDN             *string
	Thumbprint           *string
	IncludeChain         *bool
	IncludeSubjectHeader *bool
	FriendlyName         *string
	ChainOrder           *string
	// Recover only
	Password            *string
	UseLegacyEncryption *bool
	MicrosoftTargetCSP  *string
}

func (q retrieveReq) selector() retrieve.Selector {
	return retrieve.Selector{CertID: deref(q.CertID), Thumbprint: deref(q.Thumbprint),
		SerialNumber: deref(q.SerialNumber), IssuerDN: deref(q.IssuerDN)}
}

// decodeRetrieve reads what Download and Recover both start with, in this
// order: the x-certificateformat header (one of formats), the collectionId
// query parameter, the body and its ChainOrder.
func decodeRetrieve(r *http.Request, formats string) (format string, q retrieveReq, order keystore.ChainOrder, err error) {
	if format, err = requiredFormat(r, formats); err != nil {
		return "", q, order, err
	}
	if err = checkCollectionID(r); err != nil {
		return "", q, order, err
	}
	if err = decode(r, &q, false); err != nil {
		return "", q, order, err
	}
	if order, err = chainOrder(deref(q.ChainOrder)); err != nil {
		return "", q, order, err
	}
	return format, q, order, nil
}

type downloadResponseDTO struct {
	Content string `json:"Content"`
}

func (a *API) postDownload(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	format, q, order, err := decodeRetrieve(r, "DER, PEM or P7B")
	if err != nil {
		return err
	}
	out, err := a.o.Retrieve.Download(r.Context(), p, retrieve.DownloadRequest{
		Selector: q.selector(), Format: format, IncludeChain: deref(q.IncludeChain), ChainOrder: order,
		IncludeSubjectHeader: deref(q.IncludeSubjectHeader),
	})
	if err != nil {
		return err
	}
	return writeJSON(w, downloadResponseDTO{Content: base64.StdEncoding.EncodeToString(out)})
}

type recoverResponseDTO struct {
	PFX      string `json:"PFX"`
	FileName string `json:"FileName"`
}

func (a *API) postRecover(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	format, q, order, err := decodeRetrieve(r, "PFX, PEM, ZIP or JKS")
	if err != nil {
		return err
	}
	out, name, err := a.o.Retrieve.Recover(r.Context(), p, retrieve.RecoverRequest{
		Selector: q.selector(), Format: format, Password: deref(q.Password), IncludeChain: deref(q.IncludeChain),
		ChainOrder: order, IncludeSubjectHeader: deref(q.IncludeSubjectHeader), FriendlyName: deref(q.FriendlyName),
		UseLegacyEncryption: deref(q.UseLegacyEncryption), MicrosoftTargetCSP: deref(q.MicrosoftTargetCSP),
	})
	if err != nil {
		return err
	}
	return writeJSON(w, recoverResponseDTO{PFX: base64.StdEncoding.EncodeToString(out), FileName: name})
}

// ---- GET /Enrollment/{PFX,CSR}/Context/My ----

type contextCADTO struct {
	Id              int64  `json:"Id"`
	Name            string `json:"Name"`
	RFCEnforcement  bool   `json:"RFCEnforcement"`
	SubscriberTerms bool   `json:"SubscriberTerms"`
}

type contextPatternDTO struct {
	Id   int64  `json:"Id"`
	Name string `json:"Name"`
}

type contextEKUDTO struct {
	Id          int64  `json:"Id"`
	Oid         string `json:"Oid"`
	DisplayName string `json:"DisplayName"`
}

type contextTemplateDTO struct {
	Id                       int64               `json:"Id"`
	Name                     string              `json:"Name"`
	DisplayName              string              `json:"DisplayName"`
	Forest                   string              `json:"Forest"`
	RequiresApproval         bool                `json:"RequiresApproval"`
	RFCEnforcement           bool                `json:"RFCEnforcement"`
	CAs                      []contextCADTO      `json:"CAs"`
	EnrollmentFields         []any               `json:"EnrollmentFields"`
	MetadataFields           []any               `json:"MetadataFields"`
	Regexes                  []any               `json:"Regexes"`
	ExtendedKeyUsages        []contextEKUDTO     `json:"ExtendedKeyUsages"`
	EnrollmentTemplatePolicy any                 `json:"EnrollmentTemplatePolicy"`
	KeySize                  *string             `json:"KeySize"`
	KeyType                  *string             `json:"KeyType"`
	Curve                    *string             `json:"Curve"`
	EnrollmentPatterns       []contextPatternDTO `json:"EnrollmentPatterns"`
}

type contextDTO struct {
	Templates     []contextTemplateDTO `json:"Templates"`
	StandaloneCAs []contextCADTO       `json:"StandaloneCAs"`
}

func ctxCADTO(c policy.CA, rfc bool) contextCADTO {
	return contextCADTO{Id: c.ID, Name: c.Name(), RFCEnforcement: rfc}
}

func (a *API) enrollmentContext(kind string) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		c, err := a.o.Enroll.Context(r.Context(), p, kind)
		if err != nil {
			return err
		}
		out := contextDTO{Templates: []contextTemplateDTO{}, StandaloneCAs: []contextCADTO{}}
		for _, ct := range c.Templates {
			t := ct.Template
			d := contextTemplateDTO{Id: t.ID, Name: t.CommonName, DisplayName: t.DisplayName, RequiresApproval: t.RequiresApproval,
				RFCEnforcement: t.RFCEnforcement, CAs: []contextCADTO{}, EnrollmentFields: []any{}, MetadataFields: []any{},
				Regexes: []any{}, ExtendedKeyUsages: []contextEKUDTO{}, EnrollmentPatterns: []contextPatternDTO{}}
			for _, c := range ct.CAs {
				d.CAs = append(d.CAs, ctxCADTO(c, t.RFCEnforcement))
			}
			for i, o := range t.ExtendedKeyUsage {
				d.ExtendedKeyUsages = append(d.ExtendedKeyUsages, contextEKUDTO{Id: int64(i + 1), Oid: o, DisplayName: certificate.EKUName(o)})
			}
			if t.DefaultKeyType != "" {
				d.KeyType = ptr(t.DefaultKeyType)
				if t.DefaultKeySize > 0 {
					d.KeySize = ptr(idString(int64(t.DefaultKeySize)))
				}
			}
			for _, pat := range ct.Patterns {
				d.EnrollmentPatterns = append(d.EnrollmentPatterns, contextPatternDTO{Id: pat.ID, Name: pat.Name})
			}
			out.Templates = append(out.Templates, d)
		}
		for _, c := range c.StandaloneCAs {
			out.StandaloneCAs = append(out.StandaloneCAs, ctxCADTO(c, false))
		}
		return writeJSON(w, out)
	}
}
