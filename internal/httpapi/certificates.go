package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
)

type sanDTO struct {
	Id        int    `json:"Id"`
	Value     string `json:"Value"`
	Type      int    `json:"Type"`
	ValueHash string `json:"ValueHash"`
}

type cdpDTO struct {
	Id      int    `json:"Id"`
	Url     string `json:"Url"`
	UrlHash string `json:"UrlHash"`
}

type detailedKeyUsageDTO struct {
	CrlSign          bool   `json:"CrlSign"`
	DataEncipherment bool   `json:"DataEncipherment"`
	DecipherOnly     bool   `json:"DecipherOnly"`
	DigitalSignature bool   `json:"DigitalSignature"`
	EncipherOnly     bool   `json:"EncipherOnly"`
	KeyAgreement     bool   `json:"KeyAgreement"`
	KeyCertSign      bool   `json:"KeyCertSign"`
	KeyEncipherment  bool   `json:"KeyEncipherment"`
	NonRepudiation   bool   `json:"NonRepudiation"`
	HexCode          string `json:"HexCode"`
}

type locationDTO struct {
	StoreMachine string `json:"StoreMachine"`
	StorePath    string `json:"StorePath"`
	StoreType    int    `json:"StoreType"`
	Alias        string `json:"Alias"`
	ChainLevel   int    `json:"ChainLevel"`
	CertStoreId  string `json:"CertStoreId"`
}

// certificateDTO is Keyfactor's CertificateRetrievalResponse.
type certificateDTO struct {
	Id                       int64                `json:"Id"`
	Thumbprint               string               `json:"Thumbprint"`
	SerialNumber             string               `json:"SerialNumber"`
	IssuedDN                 string               `json:"IssuedDN"`
	IssuedCN                 string               `json:"IssuedCN"`
	ImportDate               string               `json:"ImportDate"`
	NotBefore                string               `json:"NotBefore"`
	NotAfter                 string               `json:"NotAfter"`
	IssuerDN                 string               `json:"IssuerDN"`
	PrincipalId              *int                 `json:"PrincipalId"`
	OwnerRoleId              *int64               `json:"OwnerRoleId"`
	OwnerRoleName            *string              `json:"OwnerRoleName"`
	TemplateId               *int64               `json:"TemplateId"`
	CertState                int                  `json:"CertState"`
	KeySizeInBits            int                  `json:"KeySizeInBits"`
	KeyType                  int                  `json:"KeyType"`
	KeyAlgorithm             string               `json:"KeyAlgorithm"`
	AltKeyAlgorithm          *string              `json:"AltKeyAlgorithm"`
	AltKeySizeInBits         *int                 `json:"AltKeySizeInBits"`
	AltKeyType               *int                 `json:"AltKeyType"`
	RequesterId              *int64               `json:"RequesterId"`
	IssuedOU                 *string              `json:"IssuedOU"`
	IssuedEmail              *string              `json:"IssuedEmail"`
	KeyUsage                 int                  `json:"KeyUsage"`
	SigningAlgorithm         string               `json:"SigningAlgorithm"`
	AltSigningAlgorithm      *string              `json:"AltSigningAlgorithm"`
	CertStateString          string               `json:"CertStateString"`
	KeyTypeString            string               `json:"KeyTypeString"`
	AltKeyTypeString         *string              `json:"AltKeyTypeString"`
	RevocationEffDate        *string              `json:"RevocationEffDate"`
	RevocationReason         *int                 `json:"RevocationReason"`
	RevocationComment        *string              `json:"RevocationComment"`
	CertificateAuthorityId   *int64               `json:"CertificateAuthorityId"`
	CertificateAuthorityName *string              `json:"CertificateAuthorityName"`
	TemplateName             *string              `json:"TemplateName"`
	ArchivedKey              bool                 `json:"ArchivedKey"`
	HasPrivateKey            bool                 `json:"HasPrivateKey"`
	HasAltPrivateKey         bool                 `json:"HasAltPrivateKey"`
	PrincipalName            *string              `json:"PrincipalName"`
	CertRequestId            *int64               `json:"CertRequestId"`
	RequesterName            string               `json:"RequesterName"`
	ContentBytes             string               `json:"ContentBytes"`
	ExtendedKeyUsages        []ekuDTO             `json:"ExtendedKeyUsages"`
	SubjectAltNameElements   []sanDTO             `json:"SubjectAltNameElements"`
	CRLDistributionPoints    []cdpDTO             `json:"CRLDistributionPoints"`
	LocationsCount           []any                `json:"LocationsCount"`
	SSLLocations             []any                `json:"SSLLocations"`
	Locations                []locationDTO        `json:"Locations"`
	Metadata                 map[string]string    `json:"Metadata"`
	CARowIndex               int64                `json:"CARowIndex"`
	CARecordId               string               `json:"CARecordId"`
	DetailedKeyUsage         *detailedKeyUsageDTO `json:"DetailedKeyUsage"`
	KeyRecoverable           bool                 `json:"KeyRecoverable"`
	Curve                    *string              `json:"Curve"`
	EnrollmentPatternId      *int64               `json:"EnrollmentPatternId"`
	RenewedFromId            *int64               `json:"RenewedFromId"`
}

type certView struct {
	metadata, locations, hasPrivateKey bool
	// now decides whether a retained key is still recoverable.
	now time.Time
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func toCertificateDTO(c certificate.Record, v certView) certificateDTO {
	d := certificateDTO{
		Id: c.ID, Thumbprint: c.Thumbprint, SerialNumber: c.SerialNumber, IssuedDN: c.IssuedDN, IssuedCN: c.IssuedCN,
		ImportDate: ts(c.ImportDate), NotBefore: ts(c.NotBefore), NotAfter: ts(c.NotAfter), IssuerDN: c.IssuerDN,
		OwnerRoleId: c.OwnerRoleID, TemplateId: c.TemplateID, CertState: int(c.State), KeySizeInBits: c.KeySize,
		KeyType: int(c.KeyType), KeyAlgorithm: c.KeyAlgorithm, RequesterId: c.RequesterID, IssuedOU: strPtr(c.IssuedOU),
		IssuedEmail: strPtr(c.IssuedEmail), KeyUsage: c.KeyUsage, SigningAlgorithm: c.SigningAlgorithm,
		CertStateString: c.State.String(), KeyTypeString: c.KeyType.String(), CertificateAuthorityId: c.CAID,
		CertificateAuthorityName: strPtr(c.CAName), TemplateName: strPtr(c.TemplateName), CertRequestId: c.CertRequestID,
		RequesterName: c.RequesterName, ContentBytes: base64.StdEncoding.EncodeToString(c.DER),
		ExtendedKeyUsages: []ekuDTO{}, SubjectAltNameElements: []sanDTO{}, CRLDistributionPoints: []cdpDTO{},
		LocationsCount: []any{}, SSLLocations: []any{}, Curve: strPtr(c.Curve), EnrollmentPatternId: c.PatternID,
		RenewedFromId: c.RenewedFromID, ArchivedKey: c.RecoverableAt(v.now), KeyRecoverable: c.RecoverableAt(v.now),
		OwnerRoleName: strPtr(c.OwnerRoleName), PrincipalName: strPtr(c.RequesterName),
	}
	if c.CertRequestID != nil {
		d.CARowIndex = *c.CertRequestID
		d.CARecordId = idString(*c.CertRequestID)
	}
	if v.hasPrivateKey {
		// What a user can get back with POST /Certificates/Recover: a key
		// kept only for store delivery, or past its retention, does not
		// count (docs/lifecycle.md).
		d.HasPrivateKey = c.RecoverableAt(v.now)
	}
	if c.Revocation != nil {
		d.RevocationEffDate = tsp(&c.Revocation.EffectiveDate)
		d.RevocationReason = ptr(c.Revocation.Reason)
		d.RevocationComment = strPtr(c.Revocation.Comment)
	}
	for i, e := range c.EKUs {
		d.ExtendedKeyUsages = append(d.ExtendedKeyUsages, ekuDTO{Id: i + 1, Oid: e.OID, DisplayName: e.DisplayName})
	}
	for i, s := range c.SANs {
		d.SubjectAltNameElements = append(d.SubjectAltNameElements, sanDTO{Id: i + 1, Value: s.Value, Type: s.Type, ValueHash: hash(s.Value)})
	}
	for i, u := range c.CRLDistributionPoints {
		d.CRLDistributionPoints = append(d.CRLDistributionPoints, cdpDTO{Id: i + 1, Url: u, UrlHash: hash(u)})
	}
	ku := c.KeyUsage
	d.DetailedKeyUsage = &detailedKeyUsageDTO{
		DigitalSignature: ku&1 != 0, NonRepudiation: ku&2 != 0, KeyEncipherment: ku&4 != 0, DataEncipherment: ku&8 != 0,
		KeyAgreement: ku&16 != 0, KeyCertSign: ku&32 != 0, CrlSign: ku&64 != 0, EncipherOnly: ku&128 != 0, DecipherOnly: ku&256 != 0,
		HexCode: strings.ToUpper(hex.EncodeToString([]byte{byte(ku)})),
	}
	if v.metadata {
		d.Metadata = c.Metadata
		if d.Metadata == nil {
			d.Metadata = map[string]string{}
		}
	}
	if v.locations {
		d.Locations = []locationDTO{}
	}
	return d
}

func certViewOf(r *http.Request) (certView, error) {
	q := r.URL.Query()
	var v certView
	var err error
	if v.metadata, err = queryBool(q, "includeMetadata", false); err != nil {
		return v, err
	}
	if v.locations, err = queryBool(q, "includeLocations", false); err != nil {
		return v, err
	}
	if v.hasPrivateKey, err = queryBool(q, "includeHasPrivateKey", false); err != nil {
		return v, err
	}
	return v, nil
}

func (a *API) getCertificate(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	v, err := certViewOf(r)
	if err != nil {
		return err
	}
	v.now = a.o.Now()
	if err := checkCollectionID(r); err != nil {
		return err
	}
	c, err := a.o.Certificates.Get(r.Context(), id)
	if err != nil {
		return err
	}
	d := toCertificateDTO(c, v)
	if v.locations {
		if err := a.addLocations(r.Context(), p, &d); err != nil {
			return err
		}
	}
	return writeJSON(w, d)
}

func (a *API) listCertificates(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	v, err := certViewOf(r)
	if err != nil {
		return err
	}
	v.now = a.o.Now()
	q := r.URL.Query()
	var o certificate.ListOptions
	if o.IncludeRevoked, err = queryBoolPrefixed(q, "IncludeRevoked"); err != nil {
		return err
	}
	if o.IncludeExpired, err = queryBoolPrefixed(q, "IncludeExpired"); err != nil {
		return err
	}
	recs, err := a.o.Certificates.List(r.Context(), q, o)
	if err != nil {
		return err
	}
	out := mapList(recs, func(c certificate.Record) certificateDTO { return toCertificateDTO(c, v) })
	if v.locations {
		// one locations query for the page, not one per certificate
		if err := a.addLocationsPage(r.Context(), p, out); err != nil {
			return err
		}
	}
	return writeJSON(w, out)
}

func queryBoolPrefixed(q map[string][]string, name string) (bool, error) {
	for _, n := range []string{"pq." + name, name} {
		if _, ok := queryValue(q, n); ok {
			return queryBool(q, n, false)
		}
	}
	return false, nil
}
