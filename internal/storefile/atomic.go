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
