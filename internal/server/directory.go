package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/certdock/certdock/internal/config"
	"github.com/certdock/certdock/internal/directory"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/errs"
)

// newDirectory builds the LDAP directory for PopulateMissingValuesFromAD
// from the setup file's Directory section. The bind password is read from
// the environment variable BindPasswordEnv names; the file never holds it.
func newDirectory(c config.SetupDirectory, log *slog.Logger) (enroll.Directory, error) {
	dc, err := directoryConfig(c, os.Getenv)
	if err != nil {
		return nil, err
	}
	l, err := directory.New(dc)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.Info("directory configured", "directory", dc)
	return &ldapDirectory{l: l, log: log}, nil
}

// directoryConfig maps the setup file's section onto directory.Config.
func directoryConfig(c config.SetupDirectory, getenv func(string) string) (directory.Config, error) {
	dc := directory.Config{
		URL:        c.URL,
		BindDN:     c.BindDN,
		BaseDN:     c.BaseDN,
		UserFilter: c.UserFilter,
		HostFilter: c.HostFilter,
		StartTLS:   c.StartTLS,
		CACertFile: c.CACertFile,
	}
	if c.URL == "" {
		return dc, errors.New("URL is required (ldap://host:port or ldaps://host:port)")
	}
	if c.BindPasswordEnv != "" {
		if c.BindDN == "" {
			return dc, errors.New("BindPasswordEnv is set but BindDN is empty")
		}
		dc.BindPassword = getenv(c.BindPasswordEnv)
		if dc.BindPassword == "" {
			return dc, fmt.Errorf("BindPasswordEnv: environment variable %s is empty", c.BindPasswordEnv)
		}
	} else if c.BindDN != "" {
		return dc, errors.New("BindDN is set but BindPasswordEnv (the environment variable holding the bind password) is empty")
	}
	return dc, nil
}

// ldapDirectory keeps directory failures away from API clients: errors
// about the request (unknown or ambiguous name) pass through as they are;
// anything else (connection, TLS, bind, search) is logged here and the
// client gets a generic "directory unavailable" error.
type ldapDirectory struct {
	l   *directory.LDAP
	log *slog.Logger
}

func (d *ldapDirectory) Lookup(ctx context.Context, cn string) (map[string]string, error) {
	vals, err := d.l.Lookup(ctx, cn)
	if err == nil {
		return vals, nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return nil, err
	}
	d.log.Error("directory lookup failed", "err", err.Error())
	return nil, &errs.Error{Kind: errs.Unavailable, Code: errs.CodeUnavailable, Field: "PopulateMissingValuesFromAD",
		Message: "PopulateMissingValuesFromAD: the directory (LDAP) cannot be reached right now; try again later"}
}
