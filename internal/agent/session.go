package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/certdock/certdock/internal/atomicfile"
)

// The data directory also holds:
//
//	agent.session  the token of the agent's last session (mode 0600)
//	agent.lock     locked while an agent process runs on the directory
//
// A registration names the last session (RegisterRequest.PreviousSessionToken):
// the server ends it and hands its unfinished jobs to the new session at once,
// which is how a restarted agent finishes the job it was killed in. The lock
// keeps a second process off the directory, so the session named is never
// one a live process still runs jobs in.
const (
	sessionFile = "agent.session"
	lockFile    = "agent.lock"
)

// lastSession is the saved session token, "" when none.
func (id *identity) lastSession() string {
	b, err := os.ReadFile(filepath.Join(id.dir, sessionFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// saveSession records the current session token.
func (id *identity) saveSession(tok string) error {
	return atomicfile.WriteFile(filepath.Join(id.dir, sessionFile), []byte(tok+"\n"), 0o600)
}

// errLocked is returned when another agent process runs on the data directory.
var errLocked = errors.New("another certdock agent is running with this --data-dir")

// lockDir takes the data directory's lock; release with the returned func.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
