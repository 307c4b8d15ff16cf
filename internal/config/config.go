// Package config holds certdock's typed server configuration: flags and
// environment variables (parsed by the CLI) with their defaults, and the
// declarative setup file loaded at start for reproducible configuration.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Serve is the configuration of `certdock serve`.
type Serve struct {
	Listen    string `help:"HTTPS listen address." default:":8443" env:"CERTDOCK_LISTEN"`
	DataDir   string `help:"Data directory (SQLite database, master key, CA certificates)." default:"./certdock-data" env:"CERTDOCK_DATA_DIR" name:"data-dir"`
	DB        string `help:"Database: empty for the embedded SQLite file, or a postgres:// DSN." env:"CERTDOCK_DB" name:"db"`
	Config    string `help:"Declarative setup file (JSON) applied at start." env:"CERTDOCK_CONFIG" name:"config"`
	Hostname  string `help:"Host name for the server certificate and the CAs' HOST\\ part (default: this machine's host name)." env:"CERTDOCK_HOSTNAME"`
	LogFormat string `help:"Log format: text or json." default:"text" env:"CERTDOCK_LOG_FORMAT" enum:"text,json" name:"log-format"`

	// Approval workflows (docs/workflow.md).
	ApprovalTimeout        time.Duration `help:"How long an enrollment may wait for approval before it expires." default:"168h" env:"CERTDOCK_APPROVAL_TIMEOUT" name:"approval-timeout"`
	WorkflowWebhookURL     string        `help:"URL that receives a POST for every workflow state change (optional)." env:"CERTDOCK_WORKFLOW_WEBHOOK_URL" name:"workflow-webhook-url"`
	WorkflowWebhookBackoff time.Duration `help:"First retry delay of a failed workflow webhook (doubles per attempt)." default:"5s" env:"CERTDOCK_WORKFLOW_WEBHOOK_BACKOFF" name:"workflow-webhook-backoff" hidden:""`
	WorkflowTick           time.Duration `help:"Period of the workflow background loop (webhooks, expiry)." default:"5s" env:"CERTDOCK_WORKFLOW_TICK" name:"workflow-tick" hidden:""`
	// PKIHTTPAddr and PKIBaseURL: the plain-HTTP listener for CRLs, CA
	// certificates and OCSP (docs/revocation.md).
	PKIHTTPAddr string `help:"Plain-HTTP listen address for CRLs, CA certificates and OCSP; empty disables it." default:":8080" env:"CERTDOCK_PKI_HTTP_ADDR" name:"pki-http-addr"`
	PKIBaseURL  string `help:"URL of the PKI listener as relying parties reach it, put into issued certificates (default: http://HOSTNAME:PORT of --pki-http-addr)." env:"CERTDOCK_PKI_BASE_URL" name:"pki-base-url"`
}

// Validate checks the configuration and fills the host name.
func (s *Serve) Validate() error {
	if _, _, err := net.SplitHostPort(s.Listen); err != nil {
		return fmt.Errorf("--listen %q: %v", s.Listen, err)
	}
	if s.ApprovalTimeout < 0 || (s.ApprovalTimeout > 0 && s.ApprovalTimeout < time.Second) {
		return fmt.Errorf("--approval-timeout %s: must be at least 1s (0 means the default, 7 days)", s.ApprovalTimeout)
	}
	if s.WorkflowWebhookURL != "" {
		if u, err := url.Parse(s.WorkflowWebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--workflow-webhook-url %q: must be an absolute http or https URL", s.WorkflowWebhookURL)
		}
	}
	if strings.TrimSpace(s.DataDir) == "" {
		return errors.New("--data-dir must not be empty")
	}
	if s.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		s.Hostname = h
	}
	if strings.ContainsAny(s.Hostname, `\/ `) {
		return fmt.Errorf("--hostname %q must be a plain host name", s.Hostname)
	}
	return s.validatePKI()
}
