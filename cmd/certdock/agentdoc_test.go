package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// TestAgentServiceDoc: the systemd unit in docs/agent-service.md parses
// with the agent's real command line, and the doc's flag table names
// exactly the agent's flags and environment variables.
func TestAgentServiceDoc(t *testing.T) {
	b, err := os.ReadFile("../../docs/agent-service.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)

	// ExecStart=... with its backslash continuations
	i := strings.Index(doc, "ExecStart=")
	if i < 0 {
		t.Fatal("no ExecStart in docs/agent-service.md")
	}
	var line strings.Builder
	for _, l := range strings.Split(doc[i+len("ExecStart="):], "\n") {
		l = strings.TrimSpace(l)
		cont := strings.HasSuffix(l, "\\")
		line.WriteString(strings.TrimSuffix(l, "\\") + " ")
		if !cont {
			break
		}
	}
	args := strings.Fields(strings.ReplaceAll(line.String(), "%H", "web01"))
	if len(args) < 2 || !strings.HasSuffix(args[0], "/certdock") || args[1] != "agent" {
		t.Fatalf("ExecStart = %q, want certdock agent ...", args)
	}
	for _, k := range []string{"CERTDOCK_AGENT_SERVER", "CERTDOCK_AGENT_DATA_DIR", "CERTDOCK_AGENT_CA_CERT", "CERTDOCK_AGENT_CLIENT_MACHINE"} {
		t.Setenv(k, "") // the unit itself must give the required flags
		os.Unsetenv(k)
	}
	var c cli
	p, err := kong.New(&c, kong.Name("certdock"), kong.Exit(func(int) { t.Fatal("kong exited") }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := p.Parse(args[1:])
	if err != nil {
		t.Fatalf("the documented ExecStart does not parse: %v", err)
	}
	if ctx.Command() != "agent" || c.Agent.Server != "https://certdock.example:8443" || c.Agent.DataDir != "/var/lib/certdock-agent" ||
		c.Agent.CACert != "/etc/certdock-agent/root-ca.pem" || c.Agent.ClientMachine != "web01" || c.Agent.LogFormat != "json" {
		t.Errorf("parsed unit = %s %+v", ctx.Command(), c.Agent)
	}

	// the flag table against the command's flags and env vars
	var agentNode *kong.Node
	for _, n := range p.Model.Children {
		if n.Name == "agent" {
			agentNode = n
		}
	}
	if agentNode == nil {
		t.Fatal("no agent command")
	}
	flags, envs := map[string]bool{}, map[string]bool{}
	for _, f := range agentNode.Flags {
		flags["--"+f.Name] = true
		for _, e := range f.Envs {
			envs[e] = true
		}
	}
	table := doc[strings.Index(doc, "## Flags and environment"):]
	if j := strings.Index(table[3:], "\n## "); j > 0 {
		table = table[:j+3]
	}
	docFlags, docEnvs := map[string]bool{}, map[string]bool{}
	for _, m := range regexp.MustCompile("`(--[a-z-]+)`").FindAllStringSubmatch(table, -1) {
		docFlags[m[1]] = true
	}
	for _, m := range regexp.MustCompile("`(CERTDOCK_[A-Z_]+)`").FindAllStringSubmatch(table, -1) {
		if strings.HasPrefix(m[1], "CERTDOCK_AGENT_HEARTBEAT") || strings.HasPrefix(m[1], "CERTDOCK_AGENT_JOB_LEASE") ||
			strings.HasPrefix(m[1], "CERTDOCK_AGENT_CERT_VALIDITY") {
			continue // server-side knobs, listed under the table
		}
		docEnvs[m[1]] = true
	}
	for f := range flags {
		if f != "--help" && !docFlags[f] {
			t.Errorf("flag %s is not in the doc's table", f)
		}
	}
	for f := range docFlags {
		if !flags[f] {
			t.Errorf("the doc's table names %s, which the agent does not have", f)
		}
	}
	for e := range envs {
		if !docEnvs[e] {
			t.Errorf("env %s is not in the doc's table", e)
		}
	}
	for e := range docEnvs {
		if !envs[e] {
			t.Errorf("the doc's table names env %s, which the agent does not read", e)
		}
	}
}
