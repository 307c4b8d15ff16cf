package atomicfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// leftovers lists the files of dir other than want.
func leftovers(t *testing.T, dir string, want ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
outer:
	for _, e := range ents {
		for _, w := range want {
			if e.Name() == w {
				continue outer
			}
		}
		extra = append(extra, e.Name())
	}
	return extra
}

func TestWriteFile_CreatesAndReplaces(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes")
	}
	for _, tc := range []struct {
		name     string
		existing []byte // nil: no file before
		oldMode  fs.FileMode
		data     []byte
		mode     fs.FileMode
	}{
		{name: "new private file", data: []byte("key"), mode: 0o600},
		{name: "new public file", data: []byte("cert"), mode: 0o644},
		{name: "replace keeps nothing of the old content", existing: []byte("a much longer old content"), oldMode: 0o644, data: []byte("new"), mode: 0o600},
		{name: "replace with empty", existing: []byte("old"), oldMode: 0o600, data: []byte{}, mode: 0o640},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if tc.existing != nil {
				if err := os.WriteFile(path, tc.existing, tc.oldMode); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFile(path, tc.data, tc.mode); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("content %q, %v; want %q", got, err, tc.data)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tc.mode {
				t.Errorf("mode %#o, want %#o", fi.Mode().Perm(), tc.mode)
			}
			if extra := leftovers(t, dir, "f"); len(extra) != 0 {
				t.Errorf("left behind: %v", extra)
			}
		})
	}
}

// TestWriteFile_InterruptedWriteKeepsOldFile crashes a write after the
// temporary file is complete but before the rename: path still holds
// exactly its old content, and the temporary file is gone.
func TestWriteFile_InterruptedWriteKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	old := []byte("old content")
	if err := WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	crash := errors.New("simulated crash")
	var sawTmp string
	o := Options{BeforeRename: func(tmp string) error {
		sawTmp = tmp
		b, err := os.ReadFile(tmp)
		if err != nil || string(b) != "new content" {
			t.Errorf("temporary file not complete before rename: %q, %v", b, err)
		}
		if filepath.Dir(tmp) != dir {
			t.Errorf("temporary file %s not in the target's directory", tmp)
		}
		return crash
	}}
	if err := o.WriteFile(path, []byte("new content"), 0o600); !errors.Is(err, crash) {
		t.Fatalf("err = %v, want the crash", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, old) {
		t.Fatalf("interrupted write changed the file: %q", now)
	}
	if _, err := os.Stat(sawTmp); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary file left behind: %v", err)
	}
	if extra := leftovers(t, dir, "store"); len(extra) != 0 {
		t.Errorf("left behind: %v", extra)
	}
}

func TestWriteFile_Errors(t *testing.T) {
	dir := t.TempDir()
	// The directory does not exist: nothing is created.
	if err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing directory: %v", err)
	}
	// The target is a directory: the rename fails and the temporary file goes.
	target := filepath.Join(dir, "sub")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "keep"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(target, []byte("x"), 0o600); err == nil {
		t.Fatal("replacing a non-empty directory succeeded")
	}
	if extra := leftovers(t, dir, "sub"); len(extra) != 0 {
		t.Errorf("left behind: %v", extra)
	}
}

func TestWriteTemp_CallerInstalls(t *testing.T) {
	dir := t.TempDir()
	name, err := WriteTemp(dir, "key", []byte("secret"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(name) != dir || filepath.Base(name)[:5] != ".key." {
		t.Errorf("temporary name %s", name)
	}
	if b, err := os.ReadFile(name); err != nil || string(b) != "secret" {
		t.Fatalf("content %q, %v", b, err)
	}
	if err := os.Link(name, filepath.Join(dir, "key")); err != nil {
		t.Fatal(err)
	}
	os.Remove(name)
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	if extra := leftovers(t, dir, "key"); len(extra) != 0 {
		t.Errorf("left behind: %v", extra)
	}
	if _, err := WriteTemp(filepath.Join(dir, "missing"), "key", nil, 0o600); err == nil {
		t.Fatal("WriteTemp into a missing directory succeeded")
	}
}
