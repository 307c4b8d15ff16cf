package agent

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLockDir_OneProcessPerDataDir(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockDir(dir); !errors.Is(err, errLocked) {
		t.Fatalf("second lock: %v, want errLocked", err)
	}
	unlock()
	again, err := lockDir(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}

func TestSessionFile(t *testing.T) {
	dir := t.TempDir()
	id := &identity{dir: dir}
	if got := id.lastSession(); got != "" {
		t.Fatalf("no file: %q", got)
	}
	if err := id.saveSession("tok-1"); err != nil {
		t.Fatal(err)
	}
	if got := id.lastSession(); got != "tok-1" {
		t.Fatalf("lastSession = %q", got)
	}
	fi, err := os.Stat(filepath.Join(dir, sessionFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file mode %v %v, want 0600", fi.Mode(), err)
	}
}
