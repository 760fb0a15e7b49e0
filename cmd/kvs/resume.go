package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// resumeState is what `kvs put --resume` keeps between runs of one upload:
// the file (by path, size and modification time), the producer timestamps
// used, and how far the service persisted it without a gap.
type resumeState struct {
	Stream           string    `json:"stream"`
	Path             string    `json:"path"`
	Size             int64     `json:"size"`
	ModTime          time.Time `json:"mod_time"`
	StartMS          int64     `json:"start_ms"`
	FragmentDuration string    `json:"fragment_duration"`
	// PersistedThroughMS is the producer timestamp of the last fragment
	// persisted with every one before it (0: none yet).
	PersistedThroughMS int64 `json:"persisted_through_ms"`

	file string // where the state is kept
}

// resumeDir is where the states are kept: $XDG_CACHE_HOME/kvs/resume (or
// the platform's user cache directory).
func resumeDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("--resume: %w", err)
	}
	return filepath.Join(dir, "kvs", "resume"), nil
}

// loadResume finds the state of an earlier upload of the file to the stream,
// or returns a new one (found false).
func loadResume(stream, path string, fragDur time.Duration) (st *resumeState, found bool, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, false, fmt.Errorf("--resume: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, false, fmt.Errorf("--resume: %w", err)
	}
	dir, err := resumeDir()
	if err != nil {
		return nil, false, err
	}
	key := sha256.Sum256([]byte(stream + "\x00" + abs + "\x00" + strconv.FormatInt(fi.Size(), 10) + "\x00" +
		strconv.FormatInt(fi.ModTime().UnixNano(), 10)))
	st = &resumeState{Stream: stream, Path: abs, Size: fi.Size(), ModTime: fi.ModTime(),
		FragmentDuration: fragDur.String(), file: filepath.Join(dir, hex.EncodeToString(key[:12])+".json")}
	b, err := os.ReadFile(st.file)
	if errors.Is(err, fs.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("--resume: %w", err)
	}
	var old resumeState
	if err := json.Unmarshal(b, &old); err != nil || old.Stream != stream || old.Path != abs || old.Size != fi.Size() {
		// Not ours, or damaged: start over, keeping nothing of it.
		return st, false, nil
	}
	if old.FragmentDuration != st.FragmentDuration {
		return nil, false, fmt.Errorf("--resume: the interrupted upload used --fragment-duration %s, not %s (%s)",
			old.FragmentDuration, st.FragmentDuration, st.file)
	}
	old.file = st.file
	return &old, true, nil
}

// save writes the state atomically (0600, in a 0700 directory).
func (st *resumeState) save() error {
	if err := os.MkdirAll(filepath.Dir(st.file), 0o700); err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := st.file + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	if err := os.Rename(tmp, st.file); err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	return nil
}

// remove deletes the state of an upload that completed.
func (st *resumeState) remove() error {
	if err := os.Remove(st.file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--resume: %w", err)
	}
	return nil
}
