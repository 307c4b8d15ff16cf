package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/certdock/certdock/internal/agent"
)

// agentCmd runs the certdock agent (docs/agent-service.md).
type agentCmd struct {
	Server        string        `help:"certdock server base URL, https://HOST:PORT." required:"" env:"CERTDOCK_AGENT_SERVER"`
	DataDir       string        `help:"Directory keeping the agent's key, certificate and id." required:"" env:"CERTDOCK_AGENT_DATA_DIR" name:"data-dir"`
	CACert        string        `help:"PEM file with the root that signed the server's certificate." required:"" env:"CERTDOCK_AGENT_CA_CERT" name:"ca-cert"`
	ClientMachine string        `help:"This agent's client machine name (stores are matched by it)." required:"" env:"CERTDOCK_AGENT_CLIENT_MACHINE" name:"client-machine"`
	Username      string        `help:"Bootstrap user for the first registration (HTTP Basic)." env:"CERTDOCK_AGENT_USERNAME"`
	Password      string        `help:"Bootstrap password." env:"CERTDOCK_AGENT_PASSWORD"`
	Token         string        `help:"One-time registration token (POST /KeyfactorAPI/Agents/RegistrationTokens)." env:"CERTDOCK_AGENT_TOKEN"`
	Once          bool          `help:"Register, run the jobs due now, report and exit."`
	PollInterval  time.Duration `help:"Heartbeat at least this often (default: the server's interval)." env:"CERTDOCK_AGENT_POLL_INTERVAL" name:"poll-interval"`
	LogFormat     string        `help:"Log format: text or json." default:"text" enum:"text,json" env:"CERTDOCK_LOG_FORMAT" name:"log-format"`
}

func (c *agentCmd) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return agent.Run(ctx, agent.Config{
		Server: c.Server, DataDir: c.DataDir, CACert: c.CACert, ClientMachine: c.ClientMachine,
		Username: c.Username, Password: c.Password, Token: c.Token, Once: c.Once, PollInterval: c.PollInterval,
		Logger: logger(c.LogFormat),
	})
}
