package awsauth

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Credentials for one identity.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// Keys of the shared-credentials file that this package reads and writes.
const (
	keyAccessKeyID     = "aws_access_key_id"
	keySecretAccessKey = "aws_secret_access_key"
	keySessionToken    = "aws_session_token"
)

// LoadCredentialsFile parses an AWS shared-credentials file and returns its
// profiles keyed by profile name.
//
// The file is INI: "[name]" starts a profile; "key = value" lines inside it
// set aws_access_key_id, aws_secret_access_key and the optional
// aws_session_token (key names are case-insensitive). Lines starting with
// '#' or ';' are comments, and so is the rest of a line after a whitespace
// followed by '#' or ';'. Other keys (region, role_arn, ...) and indented
// sub-settings are ignored. A profile without static keys (for example one
// that assumes a role) is left out of the result; a profile with only one of
// the two keys, a duplicate profile, a key outside any profile or a line that
// is neither a section, a setting nor a comment is an error naming the line.
func LoadCredentialsFile(path string) (map[string]Credentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load credentials: %w", err)
	}
	profiles, err := parseCredentials(data)
	if err != nil {
		return nil, fmt.Errorf("load credentials %s: %w", path, err)
	}
	return profiles, nil
}

type rawProfile struct {
	line int
	keys map[string]string
}

func parseCredentials(data []byte) (map[string]Credentials, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)

	raw := map[string]*rawProfile{}
	var order []string
	var cur *rawProfile
	lastKeyEmpty := false // the previous setting had no value: indented lines below it are its sub-settings
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		indented := line[0] == ' ' || line[0] == '\t'
		if indented && lastKeyEmpty {
			continue
		}
		if trimmed[0] == '[' {
			end := strings.IndexByte(trimmed, ']')
			if end < 0 {
				return nil, fmt.Errorf("line %d: section header %q has no closing ']'", n, trimmed)
			}
			if rest := stripComment(trimmed[end+1:]); rest != "" {
				return nil, fmt.Errorf("line %d: unexpected %q after section header", n, rest)
			}
			name := strings.TrimSpace(trimmed[1:end])
			if name == "" {
				return nil, fmt.Errorf("line %d: empty profile name", n)
			}
			if prev, dup := raw[name]; dup {
				return nil, fmt.Errorf("line %d: profile %q already defined on line %d", n, name, prev.line)
			}
			cur = &rawProfile{line: n, keys: map[string]string{}}
			raw[name] = cur
			order = append(order, name)
			lastKeyEmpty = false
			continue
		}
		key, value, ok := strings.Cut(trimmed, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is neither a [profile] header nor a key = value setting", n, trimmed)
		}
		key = strings.ToLower(strings.TrimSpace(key))
		value = stripComment(value)
		if key == "" {
			return nil, fmt.Errorf("line %d: setting without a key", n)
		}
		if cur == nil {
			return nil, fmt.Errorf("line %d: setting %q outside any [profile] section", n, key)
		}
		cur.keys[key] = value
		lastKeyEmpty = value == ""
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}

	out := make(map[string]Credentials, len(raw))
	for _, name := range order {
		p := raw[name]
		id, secret := p.keys[keyAccessKeyID], p.keys[keySecretAccessKey]
		switch {
		case id == "" && secret == "":
			continue
		case id == "":
			return nil, fmt.Errorf("profile %q (line %d): %s without %s", name, p.line, keySecretAccessKey, keyAccessKeyID)
		case secret == "":
			return nil, fmt.Errorf("profile %q (line %d): %s without %s", name, p.line, keyAccessKeyID, keySecretAccessKey)
		}
		out[name] = Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: p.keys[keySessionToken]}
	}
	return out, nil
}

// stripComment trims s and removes a trailing comment that starts with '#'
// or ';' after whitespace (or at the start of s).
func stripComment(s string) string {
	s = strings.TrimSpace(s)
	if s != "" && (s[0] == '#' || s[0] == ';') {
		return ""
	}
	for i := 1; i < len(s); i++ {
		if (s[i] == '#' || s[i] == ';') && (s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

// WriteCredentialsFile writes a shared-credentials file holding one profile,
// readable only by its owner (mode 0600). It creates missing parent
// directories (mode 0700) and replaces any file already at path atomically.
func WriteCredentialsFile(path, profile string, c Credentials) error {
	if err := checkWritable(profile, c); err != nil {
		return fmt.Errorf("write credentials %s: %w", path, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s]\n%s = %s\n%s = %s\n", profile, keyAccessKeyID, c.AccessKeyID, keySecretAccessKey, c.SecretAccessKey)
	if c.SessionToken != "" {
		fmt.Fprintf(&b, "%s = %s\n", keySessionToken, c.SessionToken)
	}

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write credentials %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, ".credentials-*")
	if err != nil {
		return fmt.Errorf("write credentials %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	// CreateTemp already uses 0600; Chmod makes it explicit whatever the umask.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write credentials %s: %w", path, err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("write credentials %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write credentials %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write credentials %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write credentials %s: %w", path, err)
	}
	return nil
}

func checkWritable(profile string, c Credentials) error {
	if strings.TrimSpace(profile) != profile || profile == "" || strings.ContainsAny(profile, "[]\r\n") {
		return fmt.Errorf("invalid profile name %q", profile)
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return errors.New("access key id and secret access key are required")
	}
	for name, v := range map[string]string{keyAccessKeyID: c.AccessKeyID, keySecretAccessKey: c.SecretAccessKey, keySessionToken: c.SessionToken} {
		if strings.TrimSpace(v) != v || strings.ContainsAny(v, "\r\n#;") {
			return fmt.Errorf("%s contains characters a credentials file cannot hold", name)
		}
	}
	return nil
}

const (
	upperAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// NewRandomCredentials makes a fresh identity from crypto/rand: an access key
// id of 20 characters, "AKIA" followed by upper-case letters and digits, and
// a 40-character secret access key of letters, digits, '+' and '/'.
func NewRandomCredentials() (Credentials, error) {
	id, err := randomString(upperAlnum, 16)
	if err != nil {
		return Credentials{}, fmt.Errorf("new credentials: %w", err)
	}
	secret, err := randomString(secretChars, 40)
	if err != nil {
		return Credentials{}, fmt.Errorf("new credentials: %w", err)
	}
	return Credentials{AccessKeyID: "AKIA" + id, SecretAccessKey: secret}, nil
}

// randomString draws n characters uniformly from alphabet (at most 256
// characters) by rejection sampling.
func randomString(alphabet string, n int) (string, error) {
	limit := 256 - 256%len(alphabet) // bytes at or above limit would bias the draw
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}
