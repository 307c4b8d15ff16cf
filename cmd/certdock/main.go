// Command certdock is an open-source certificate enrollment and delivery
// server that speaks the Keyfactor Command REST API.
//
//	certdock serve                 run the server (HTTPS, embedded SQLite, built-in CA)
//	certdock identity add NAME     create a local identity (password from --password-env)
//	certdock agent --server URL    run the agent that manages this machine's certificate stores
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/certdock/certdock/internal/admin"
	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/config"
	"github.com/certdock/certdock/internal/server"
)

type cli struct {
	Serve    serveCmd    `cmd:"" help:"Run the certdock server."`
	Identity identityCmd `cmd:"" help:"Manage local identities."`
	Agent    agentCmd    `cmd:"" help:"Run the certdock agent: keep this machine's certificate stores as the server says."`
}

type serveCmd struct {
	config.Serve
}

func logger(format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

func (c *serveCmd) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := server.Open(ctx, c.Serve, logger(c.LogFormat), os.Stdout)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Run(ctx)
}

type identityCmd struct {
	Add identityAddCmd `cmd:"" help:"Create a local identity that can log in with HTTP Basic."`
}

type identityAddCmd struct {
	config.Serve `embed:""`
	Name         string   `arg:"" help:"Account name (user or DOMAIN\\user)."`
	PasswordEnv  string   `help:"Environment variable holding the password (read, never echoed)." default:"CERTDOCK_IDENTITY_PASSWORD" name:"password-env"`
	Role         []string `help:"Roles to add the identity to (repeatable)."`
}

func (c *identityAddCmd) Run() error {
	ctx := context.Background()
	pw := os.Getenv(c.PasswordEnv)
	if pw == "" {
		return fmt.Errorf("set the password in the environment variable %s", c.PasswordEnv)
	}
	s, err := server.Open(ctx, c.Serve, logger(c.LogFormat), os.Stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	id, err := s.Admin.CreateIdentity(ctx, nil, admin.IdentityRequest{AccountName: c.Name, Password: pw})
	if err != nil {
		return err
	}
	for _, rn := range c.Role {
		role, err := s.Admin.RoleByName(ctx, rn)
		if err != nil {
			return err
		}
		var accounts []string
		for _, m := range role.Identities {
			accounts = append(accounts, m.AccountName)
		}
		accounts = append(accounts, id.AccountName)
		if _, err := s.Admin.SaveRole(ctx, nil, auth.Role{ID: role.ID, Name: role.Name, Description: role.Description,
			Enabled: role.Enabled, Private: role.Private, Permissions: role.Permissions}, accounts); err != nil {
			return err
		}
	}
	fmt.Printf("identity %s created (id %d)%s\n", id.AccountName, id.ID, rolesSuffix(c.Role))
	return nil
}

func rolesSuffix(r []string) string {
	if len(r) == 0 {
		return ""
	}
	return " in roles " + strings.Join(r, ", ")
}

func main() {
	var c cli
	ctx := kong.Parse(&c, kong.Name("certdock"), kong.Description("Keyfactor-compatible certificate enrollment and delivery server."), kong.UsageOnError())
	if err := ctx.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "certdock:", err)
		os.Exit(1)
	}
}
