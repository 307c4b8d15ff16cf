// Package atomicfile replaces small files so that a crash leaves either
// the old content or the new one, never a mix: the data goes to a
// temporary file in the same directory, which is synced and renamed over
// the target, and then the directory is synced so the rename itself is
// durable. It owns only this file-system protocol; what the files hold
// (keys, certificates, key stores) is the callers' business.
package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// WriteFile replaces path with data atomically and durably. The file gets
// exactly mode (chmod is not subject to the umask), whether or not path
// existed before. On error path is unchanged and no temporary file is
// left behind.
func WriteFile(path string, data []byte, mode fs.FileMode) error {
	return Options{}.WriteFile(path, data, mode)
}

// Options adjusts WriteFile; the zero value is WriteFile itself.
type Options struct {
	// BeforeRename, when set, runs after the temporary file is written,
	// synced and closed, before it replaces path; an error aborts the
	// write as a crash at that point would (tests use it to show that an
	// interrupted write keeps the old file).
	BeforeRename func(tmp string) error
}

// WriteFile is the package's WriteFile with o's hooks.
func (o Options) WriteFile(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := WriteTemp(dir, filepath.Base(path), data, mode)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // a no-op after a successful rename
	if o.BeforeRename != nil {
		if err := o.BeforeRename(tmp); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// WriteTemp writes data to a new temporary file in dir, named after base,
// with mode, synced and closed, and returns its name. The caller installs
// it (rename, or link when an existing file must win) and removes it
// afterwards; on error nothing is left behind.
func WriteTemp(dir, base string, data []byte, mode fs.FileMode) (name string, err error) {
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", err
	}
	name = tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(name)
		}
	}()
	// CreateTemp makes 0600; Chmod sets exactly mode, umask or not.
	if err = tmp.Chmod(mode); err != nil {
		return "", err
	}
	if _, err = tmp.Write(data); err != nil {
		return "", err
	}
	if err = tmp.Sync(); err != nil {
		return "", err
	}
	if err = tmp.Close(); err != nil {
		return "", err
	}
	return name, nil
}

// SyncDir makes the directory entries of dir durable (a new or renamed
// file's name survives a crash). Where directories cannot be synced
// (Windows, file systems answering EINVAL) it does nothing.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}
