package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"kvskit/internal/awsauth"
)

// SessionKeyFile is the file under the data dir that holds the key of the
// temporary credentials the endpoint issues (hex, mode 0600).
const SessionKeyFile = "session.key"

// SessionIssuer returns the issuer of the data dir's temporary credentials,
// whose key is DATA-DIR/session.key, made on first use. Tokens stay valid
// across restarts while that file is kept; deleting it revokes them all.
// The data dir must exist (PrepareDataDir).
func SessionIssuer(dataDir string) (*awsauth.SessionIssuer, error) {
	path := filepath.Join(dataDir, SessionKeyFile)
	key, err := readSessionKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createSessionKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("session key %s: %w", path, err)
	}
	iss, err := awsauth.NewSessionIssuer(key)
	if err != nil {
		return nil, fmt.Errorf("session key %s: %w", path, err)
	}
	return iss, nil
}

func readSessionKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != awsauth.SessionKeySize {
		return nil, fmt.Errorf("not %d hex-encoded bytes; remove it to make a new key (which revokes every issued token)", awsauth.SessionKeySize)
	}
	return key, nil
}

// createSessionKey writes a new random key, or reads the one another process
// wrote first.
func createSessionKey(path string) ([]byte, error) {
	key := make([]byte, awsauth.SessionKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".session-key-*")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Chmod(fileMode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return readSessionKey(path)
	} else if err != nil {
		return nil, err
	}
	return key, nil
}
