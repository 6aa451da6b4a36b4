package storage

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("store is closed")

	// ErrLocked is wrapped in the error from Open when RocksDB's LOCK file
	// in the store directory is held, by another process or by another open
	// Store in this process.
	ErrLocked = errors.New("store directory is locked")

	// ErrDiskFull is wrapped in the error from LookupAndInsert when the
	// store's file system has less free space than Options.MinFreeBytes.
	ErrDiskFull = errors.New("not enough free disk space")
)

// remedy returns advice for a RocksDB or file system error about the store
// at path, or "" when there is none. RocksDB's C API reports errors as text
// only, so the cause is recognised by the messages RocksDB 7.8 produces.
func remedy(path string, err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "No space left on device"):
		return fmt.Sprintf("the disk holding %s is full; free space, or lower the retention or max bytes of the stores on it", path)
	case strings.Contains(msg, "Permission denied"), strings.Contains(msg, "Read-only file system"):
		return fmt.Sprintf("check that the user running this process can read and write %s and its files", path)
	case strings.Contains(msg, "Too many open files"):
		return "raise the open file limit (ulimit -n) of this process"
	case strings.Contains(msg, "Corruption"):
		return fmt.Sprintf("the store files are damaged; move %s aside to start with an empty store (its keys are lost)", path)
	default:
		return ""
	}
}

// isLockError reports whether err is RocksDB failing to take the LOCK file.
// RocksDB 7.8 reports "While lock file: <path>/LOCK: Resource temporarily
// unavailable" for another process and "lock hold by current process" for
// a second open in the same process.
func isLockError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "/LOCK:") || strings.Contains(msg, "lock hold by current process")
}

// wrapError returns "cannot <action> <path>: <cause>" with a remedy when one is known.
func wrapError(action, path string, err error) error {
	if r := remedy(path, err); r != "" {
		return fmt.Errorf("cannot %s %s: %w; %s", action, path, err, r)
	}
	return fmt.Errorf("cannot %s %s: %w", action, path, err)
}

// openError wraps an error from opening the database at path.
func openError(path string, err error) error {
	if isLockError(err) {
		return fmt.Errorf("cannot open dedup store %s: %w: %w; another instance may be using the same store path, so stop it or give this one a different path",
			path, ErrLocked, err)
	}
	return wrapError("open dedup store", path, err)
}
