package agent

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certdock/certdock/internal/jobs"
	"github.com/certdock/certdock/internal/orchestrator"
	"github.com/certdock/certdock/internal/pki"
	"github.com/certdock/certdock/internal/storefile"
	"github.com/certdock/certdock/internal/stores"
)

func (a *agentRun) runJob(ctx context.Context, j orchestrator.SessionJob) error {
	kind, ok := orchestrator.JobTypeOf(j.JobTypeId)
	if !ok {
		a.log.Warn("skipping a job of an unknown type", "job", j.JobId, "type", j.JobTypeId)
		return nil
	}
	if kind.Management {
		return a.runManagement(ctx, j)
	}
	return a.runInventory(ctx, j.JobId, j.ConfigurationEndpoint, j.CompletionEndpoint)
}

// storeOf builds the local store a job names.
func storeOf(storeType int, path, password, properties string, create bool) (storefile.Store, error) {
	s := storefile.Store{Path: path, Password: password, CreateIfMissing: create}
	props := map[string]any{}
	if strings.TrimSpace(properties) != "" {
		if err := json.Unmarshal([]byte(properties), &props); err != nil {
			return s, fmt.Errorf("store Properties are not a JSON object: %w", err)
		}
	}
	prop := func(name string) string {
		for k, v := range props {
			if strings.EqualFold(k, name) {
				switch x := v.(type) {
				case string:
					return x
				case map[string]any: // {"value": ...} as some clients send it
					if s, ok := x["value"].(string); ok {
						return s
					}
				}
			}
		}
		return ""
	}
	switch storeType {
	case stores.TypePEM:
		s.Kind = storefile.PEM
		s.PrivateKeyPath, s.ChainPath = prop("PrivateKeyPath"), prop("ChainPath")
	case stores.TypePKCS12:
		s.Kind = storefile.PKCS12
	case stores.TypeJKS:
		s.Kind = storefile.JKS
		s.KeystoreType = prop("KeystoreType")
	default:
		return s, fmt.Errorf("store type %d is not one this agent handles", storeType)
	}
	return s, nil
}

func (a *agentRun) runManagement(ctx context.Context, j orchestrator.SessionJob) error {
	var cfg orchestrator.ManagementConfig
	if err := a.post(ctx, j.ConfigurationEndpoint, nil, orchestrator.JobRequest{SessionToken: a.token, JobId: j.JobId}, &cfg); err != nil {
		return err
	}
	if cfg.JobCancelled {
		a.log.Info("job cancelled by the server", "job", j.JobId)
		return nil
	}
	if cfg.Result.Status == orchestrator.StatusError {
		return &protocolError{path: j.ConfigurationEndpoint, res: cfg.Result}
	}
	status, msg, impossible := a.manage(cfg.Job)
	a.log.Info("management job done", "job", j.JobId, "operation", cfg.Job.OperationType, "store", cfg.Job.StorePath, "status", status, "message", msg)
	var done orchestrator.CompleteResponse
	if err := a.post(ctx, j.CompletionEndpoint, nil, orchestrator.CompleteRequest{SessionToken: a.token, JobId: j.JobId,
		Status: status, AuditId: cfg.AuditId, Message: msg, Impossible: impossible}, &done); err != nil {
		return err
	}
	if done.Result.Status == orchestrator.StatusError {
		return &protocolError{path: j.CompletionEndpoint, res: done.Result}
	}
	if done.InventoryJob != "" {
		return a.runInventory(ctx, done.InventoryJob, "KeyfactorAgents"+orchestrator.PathInventoryConfig, "KeyfactorAgents"+orchestrator.PathInventoryDone)
	}
	return nil
}

// manage carries out an add or remove and says how it went.
func (a *agentRun) manage(mj orchestrator.ManagementJob) (status int, msg string, impossible bool) {
	s, err := storeOf(mj.StoreType, mj.StorePath, mj.StorePassword, mj.Properties, mj.CreateIfMissing)
	if err != nil {
		return jobs.StatusError, err.Error(), true
	}
	switch mj.OperationType {
	case int(jobs.Add):
		e, err := entryOf(mj)
		if err != nil {
			return jobs.StatusError, err.Error(), false
		}
		err = s.Add(e, mj.Overwrite)
		if errors.Is(err, storefile.ErrAliasExists) && holds(s, e) {
			// A rerun after a crash between writing the store and
			// reporting: the entry is already there.
			return jobs.StatusOK, "the entry was already in the store", false
		}
		if err != nil {
			return jobs.StatusError, "add: " + err.Error(), false
		}
		return jobs.StatusOK, fmt.Sprintf("added %s to %s", nonEmpty(e.Alias, mj.Thumbprint), mj.StorePath), false
	case int(jobs.Remove):
		alias := nonEmpty(mj.Alias, mj.Thumbprint)
		if mj.Thumbprint != "" && !strings.EqualFold(alias, mj.Thumbprint) {
			// Remove a certificate, not whatever the alias holds now: after a
			// replacement under the same alias it holds the new one.
			if items, err := s.Inventory(); err == nil {
				for _, it := range items {
					if strings.EqualFold(it.Alias, alias) && len(it.Certificates) > 0 &&
						!strings.EqualFold(pki.ThumbprintDER(it.Certificates[0]), mj.Thumbprint) {
						return jobs.StatusWarning, fmt.Sprintf("%s in %s holds another certificate than %s; left in place", alias, mj.StorePath, mj.Thumbprint), false
					}
				}
			}
		}
		err := s.Remove(alias)
		if errors.Is(err, storefile.ErrNoEntry) {
			return jobs.StatusWarning, fmt.Sprintf("%s was not in %s", alias, mj.StorePath), false
		}
		if err != nil {
			return jobs.StatusError, "remove: " + err.Error(), false
		}
		return jobs.StatusOK, fmt.Sprintf("removed %s from %s", alias, mj.StorePath), false
	}
	return jobs.StatusError, fmt.Sprintf("OperationType %d is not supported", mj.OperationType), true
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// holds reports whether the store already has e's alias with e's leaf.
func holds(s storefile.Store, e storefile.Entry) bool {
	items, err := s.Inventory()
	if err != nil {
		return false
	}
	alias := e.Alias
	if alias == "" {
		alias = pki.ThumbprintDER(e.Certificates[0].Raw)
	}
	for _, it := range items {
		if strings.EqualFold(it.Alias, alias) && len(it.Certificates) > 0 && bytes.Equal(it.Certificates[0], e.Certificates[0].Raw) {
			return true
		}
	}
	return false
}

// entryOf decodes EntryContents: a PKCS#12 opened with PfxPassword, or a
// bare DER certificate (base64, possibly PEM).
func entryOf(mj orchestrator.ManagementJob) (storefile.Entry, error) {
	e := storefile.Entry{Alias: mj.Alias, Password: mj.EntryPassword}
	blob, err := base64.StdEncoding.DecodeString(strings.TrimSpace(mj.EntryContents))
	if err != nil {
		return e, fmt.Errorf("EntryContents: not base64: %w", err)
	}
	if mj.PfxPassword != "" {
		key, leaf, chain, err := pkcs12.DecodeChain(blob, mj.PfxPassword)
		if err != nil {
			return e, fmt.Errorf("EntryContents: PKCS#12: %w", err)
		}
		e.Certificates = append([]*x509.Certificate{leaf}, chain...)
		if mj.PrivateKeyEntry {
			e.Key = key
		}
		return e, nil
	}
	if bytes.HasPrefix(bytes.TrimSpace(blob), []byte("-----BEGIN")) {
		if der, err := decodeCert(string(blob)); err == nil {
			blob = der
		}
	}
	c, err := x509.ParseCertificate(blob)
	if err != nil {
		return e, fmt.Errorf("EntryContents: not a certificate: %w", err)
	}
	e.Certificates = []*x509.Certificate{c}
	return e, nil
}

func (a *agentRun) runInventory(ctx context.Context, jobID, configEndpoint, completionEndpoint string) error {
	if a.ran != nil {
		a.ran[strings.ToLower(jobID)] = true
	}
	var cfg orchestrator.InventoryConfig
	if err := a.post(ctx, configEndpoint, nil, orchestrator.JobRequest{SessionToken: a.token, JobId: jobID}, &cfg); err != nil {
		return err
	}
	if cfg.JobCancelled {
		return nil
	}
	if cfg.Result.Status == orchestrator.StatusError {
		return &protocolError{path: configEndpoint, res: cfg.Result}
	}
	status, msg, impossible := jobs.StatusOK, "", false
	s, err := storeOf(cfg.Job.StoreType, cfg.Job.StorePath, cfg.Job.StorePassword, cfg.Job.Properties, cfg.Job.CreateIfMissing)
	var items []storefile.Item
	if err != nil {
		status, msg, impossible = jobs.StatusError, err.Error(), true
	} else if items, err = s.Inventory(); err != nil {
		status, msg = jobs.StatusError, "inventory: "+err.Error()
	}
	if status == jobs.StatusOK {
		known := map[string]string{}
		for _, e := range cfg.Job.Inventory {
			if len(e.Thumbprints) > 0 {
				known[strings.ToLower(e.Alias)] = strings.ToUpper(e.Thumbprints[0])
			}
		}
		req := orchestrator.InventoryRequest{SessionToken: a.token, JobId: jobID, Inventory: []orchestrator.InventoryItem{}}
		for _, it := range items {
			ii := orchestrator.InventoryItem{Alias: it.Alias, PrivateKeyEntry: it.PrivateKeyEntry, UseChainLevel: len(it.Certificates) > 1, ItemStatus: 1}
			if tp, ok := known[strings.ToLower(it.Alias)]; ok {
				ii.ItemStatus = 2
				if len(it.Certificates) > 0 && tp == pki.ThumbprintDER(it.Certificates[0]) {
					ii.ItemStatus = 4
				}
			}
			for _, der := range it.Certificates {
				ii.Certificates = append(ii.Certificates, base64.StdEncoding.EncodeToString(der))
			}
			req.Inventory = append(req.Inventory, ii)
		}
		var rr orchestrator.ResultResponse
		endpoint := nonEmpty(cfg.InventoryEndpoint, "KeyfactorAgents"+orchestrator.PathInventoryEndpoint)
		if err := a.post(ctx, endpoint, nil, req, &rr); err != nil {
			return err
		}
		if rr.Result.Status == orchestrator.StatusError {
			status, msg = jobs.StatusError, "the server refused the inventory: "+(&protocolError{path: endpoint, res: rr.Result}).Error()
		} else {
			msg = fmt.Sprintf("%d entries in %s", len(items), cfg.Job.StorePath)
		}
	}
	a.log.Info("inventory job done", "job", jobID, "store", cfg.Job.StorePath, "status", status, "message", msg)
	var done orchestrator.CompleteResponse
	if err := a.post(ctx, completionEndpoint, nil, orchestrator.CompleteRequest{SessionToken: a.token, JobId: jobID,
		Status: status, AuditId: cfg.AuditId, Message: msg, Impossible: impossible}, &done); err != nil {
		return err
	}
	if done.Result.Status == orchestrator.StatusError {
		return &protocolError{path: completionEndpoint, res: done.Result}
	}
	return nil
}
