package workflow_test

import (
	"strconv"

	"github.com/certdock/certdock/internal/policy"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func policyTemplate(name string) policy.Template {
	return policy.Template{CommonName: name, TemplateName: name, DisplayName: name, ValidityDays: 30}
}

func policyPattern(name string, templateID int64) policy.Pattern {
	return policy.Pattern{Name: name, TemplateID: templateID, TemplateDefault: true}
}
