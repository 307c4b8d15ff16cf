package certificate

import "github.com/certdock/certdock/internal/query"

// QuerySchema lists the fields GET /Certificates can filter (pq.queryString)
// and sort (SortField) on. Columns refer to the aliases of the storage
// layer's certificate select: c = certificates, t = templates, r = owner
// role, ca = certificate authority.
var QuerySchema = query.NewSchema(
	query.Field{Name: "Id", Column: "c.id", Kind: query.Int, Key: true},
	query.Field{Name: "Thumbprint", Column: "c.thumbprint", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "SerialNumber", Column: "c.serial_number", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "IssuerDN", Column: "c.issuer_dn", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "IssuedDN", Column: "c.issued_dn", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "IssuedCN", Column: "c.issued_cn", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "IssuedOU", Column: "c.issued_ou", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "IssuedEmail", Column: "c.issued_email", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "NotBefore", Column: "c.not_before", Kind: query.Date},
	query.Field{Name: "NotAfter", Column: "c.not_after", Kind: query.Date},
	query.Field{Name: "ImportDate", Column: "c.import_date", Kind: query.Date},
	query.Field{Name: "CertState", Column: "c.cert_state", Kind: query.Int},
	query.Field{Name: "KeyType", Column: "c.key_type", Kind: query.Int},
	query.Field{Name: "KeySizeInBits", Column: "c.key_size", Kind: query.Int},
	query.Field{Name: "SigningAlgorithm", Column: "c.signing_algorithm", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "TemplateId", Column: "c.template_id", Kind: query.Int},
	query.Field{Name: "TemplateName", Column: "t.common_name", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "EnrollmentPatternId", Column: "c.enrollment_pattern_id", Kind: query.Int},
	query.Field{Name: "CertificateAuthorityId", Column: "c.ca_id", Kind: query.Int},
	query.Field{Name: "CA", Column: "ca.logical_name", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "CertRequestId", Column: "c.cert_request_id", Kind: query.Int},
	query.Field{Name: "RequesterId", Column: "c.requester_id", Kind: query.Int},
	query.Field{Name: "RequesterName", Column: "c.requester_name", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "OwnerRoleId", Column: "c.owner_role_id", Kind: query.Int},
	query.Field{Name: "OwnerRoleName", Column: "r.name", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "RevocationEffDate", Column: "c.revocation_eff_date", Kind: query.Date},
	query.Field{Name: "RevocationReason", Column: "c.revocation_reason", Kind: query.Int},
	query.Field{Name: "RevocationComment", Column: "c.revocation_comment", Kind: query.String},
	query.Field{Name: "KeyUsage", Column: "c.key_usage", Kind: query.Int},
	query.Field{Name: "HasPrivateKey", Column: "(EXISTS (SELECT 1 FROM certificate_keys k2 WHERE k2.certificate_id = c.id AND NOT EXISTS (SELECT 1 FROM delivery_enrollments d2 WHERE d2.certificate_id = c.id AND d2.key_for_delivery_only = TRUE)))", Kind: query.Bool},
	query.Field{Name: "RenewedFromId", Column: "c.renewed_from_id", Kind: query.Int},
)
