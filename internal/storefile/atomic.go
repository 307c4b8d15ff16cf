package storefile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/certdock/certdock/internal/atomicfile"
)

// newFileMode is the mode of a store file certdock creates: stores hold
// private keys.
const newFileMode fs.FileMode = 0o600

func statFile(path string) (fs.FileInfo, error) { return os.Stat(path) }

// readFile reads a store file, at most MaxFileSize bytes. A missing file
// returns (nil, false, nil).
func readFile(path string) ([]byte, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if !fi.Mode().IsRegular() {
		return nil, false, invalidf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, false, err
	}
	if len(b) > MaxFileSize {
		return nil, false, invalidf("%s is larger than %d bytes", path, MaxFileSize)
	}
	return b, true, nil
}

// write replaces path with data atomically (atomicfile.WriteFile: a
// synced temporary file renamed over path, then the directory synced).
// The file keeps the mode of the file it replaces; a new file gets
// newFileMode.
func (s Store) write(path string, data []byte) error {
	mode := newFileMode
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return invalidf("%s is not a regular file", path)
		}
		mode = fi.Mode().Perm()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	} else if s.CreateIfMissing {
		// A store created because it is missing may live in a directory
		// that does not exist yet: create it, private to the agent's user.
		if err := mkdirAll(filepath.Dir(path)); err != nil {
			return err
		}
	}
	return atomicfile.Options{BeforeRename: s.beforeRename}.WriteFile(path, data, mode)
}

// remove deletes path if it exists and syncs its directory.
func remove(path string) error {
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(path))
}

// newDirMode is the mode of directories created for a new store.
const newDirMode = 0o700

// mkdirAll creates dir and its missing parents (mode newDirMode) and syncs
// the parent of each directory it created, so the new path survives a crash.
func mkdirAll(dir string) error {
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(created) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, newDirMode); err != nil {
		return err
	}
	for _, d := range created {
		if err := atomicfile.SyncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}
