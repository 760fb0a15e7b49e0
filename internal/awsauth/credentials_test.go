package awsauth

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadCredentialsFile(t *testing.T) {
	p := writeFile(t, "\ufeff# shared credentials\n"+
		"; another comment style\n"+
		"[default]\n"+
		"aws_access_key_id = AKIADEFAULT000000000\n"+
		"aws_secret_access_key=secret/default+key   # trailing comment\n"+
		"\n"+
		"  [ kvs-local ]  ; local endpoint\n"+
		"AWS_ACCESS_KEY_ID\t=\tAKIALOCAL00000000000\n"+
		"aws_secret_access_key = local;secret-with-semicolon\n"+
		"aws_session_token = FwoGZXIvYXdzE#notacomment\n"+
		"region = us-east-1\n"+
		"s3 =\n"+
		"    max_concurrent_requests = 10\n"+
		"[role-only]\n"+
		"role_arn = arn:aws:iam::123456789012:role/x\n"+
		"source_profile = default\n")
	got, err := LoadCredentialsFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Credentials{
		"default":   {AccessKeyID: "AKIADEFAULT000000000", SecretAccessKey: "secret/default+key"},
		"kvs-local": {AccessKeyID: "AKIALOCAL00000000000", SecretAccessKey: "local;secret-with-semicolon", SessionToken: "FwoGZXIvYXdzE#notacomment"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

func TestLoadCredentialsFileErrors(t *testing.T) {
	for name, tc := range map[string]struct{ content, want string }{
		"unclosed section":    {"[default\naws_access_key_id = A\n", "line 1: section header"},
		"empty section name":  {"[ ]\n", "line 1: empty profile name"},
		"junk after section":  {"[a] b\n", `unexpected "b"`},
		"setting outside":     {"aws_access_key_id = A\n[a]\n", "line 1: setting \"aws_access_key_id\" outside"},
		"line without equals": {"[a]\naws_access_key_id A\n", "line 2: \"aws_access_key_id A\" is neither"},
		"empty key":           {"[a]\n = x\n", "line 2: setting without a key"},
		"duplicate profile":   {"[a]\n[b]\n[a]\n", `line 3: profile "a" already defined on line 1`},
		"id without secret":   {"[a]\naws_access_key_id = A\n", `profile "a" (line 1): aws_access_key_id without aws_secret_access_key`},
		"secret without id":   {"[a]\naws_secret_access_key = S\n", `aws_secret_access_key without aws_access_key_id`},
	} {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, tc.content)
			_, err := LoadCredentialsFile(p)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q should name %q and the file", err, tc.want)
			}
		})
	}
	if _, err := LoadCredentialsFile(filepath.Join(t.TempDir(), "absent")); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("missing file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestLoadEmptyCredentialsFile(t *testing.T) {
	got, err := LoadCredentialsFile(writeFile(t, "# nothing here\n\n"))
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestWriteCredentialsFileRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", ".aws")
	p := filepath.Join(dir, "credentials")
	for _, c := range []Credentials{
		{AccessKeyID: "AKIAFIRST0000000000", SecretAccessKey: "first/secret+1"},
		{AccessKeyID: "AKIASECOND000000000", SecretAccessKey: "second", SessionToken: "tok+/="},
	} {
		if err := WriteCredentialsFile(p, "kvs", c); err != nil {
			t.Fatal(err)
		}
		got, err := LoadCredentialsFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got["kvs"] != c {
			t.Fatalf("read back %#v, wrote %#v", got, c)
		}
		if runtime.GOOS != "windows" {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("left temporary files behind: %v", entries)
	}
}

func TestWriteCredentialsFileRefuses(t *testing.T) {
	p := filepath.Join(t.TempDir(), "credentials")
	ok := Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"}
	for name, tc := range map[string]struct {
		profile string
		c       Credentials
	}{
		"empty profile":       {"", ok},
		"bracket in profile":  {"a]b", ok},
		"newline in profile":  {"a\nb", ok},
		"no secret":           {"a", Credentials{AccessKeyID: "AKIA"}},
		"newline in secret":   {"a", Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s\n[evil]"}},
		"comment in token":    {"a", Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s", SessionToken: "x #y"}},
		"space around key id": {"a", Credentials{AccessKeyID: " AKIA", SecretAccessKey: "s"}},
	} {
		if err := WriteCredentialsFile(p, tc.profile, tc.c); err == nil {
			t.Errorf("%s: written", name)
		}
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("a refused write left a file: %v", err)
	}
}

func TestNewRandomCredentials(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		c, err := NewRandomCredentials()
		if err != nil {
			t.Fatal(err)
		}
		if len(c.AccessKeyID) != 20 || !strings.HasPrefix(c.AccessKeyID, "AKIA") {
			t.Fatalf("access key id %q", c.AccessKeyID)
		}
		for _, r := range c.AccessKeyID {
			if !strings.ContainsRune(upperAlnum, r) {
				t.Fatalf("access key id %q has %q", c.AccessKeyID, r)
			}
		}
		if len(c.SecretAccessKey) != 40 || strings.Trim(c.SecretAccessKey, secretChars) != "" {
			t.Fatalf("secret %q", c.SecretAccessKey)
		}
		if c.SessionToken != "" {
			t.Fatal("random credentials have a session token")
		}
		if seen[c.AccessKeyID] || seen[c.SecretAccessKey] {
			t.Fatal("repeated value")
		}
		seen[c.AccessKeyID], seen[c.SecretAccessKey] = true, true
		// They must survive a credentials file.
		p := filepath.Join(t.TempDir(), "c")
		if err := WriteCredentialsFile(p, "x", c); err != nil {
			t.Fatal(err)
		}
		if got, err := LoadCredentialsFile(p); err != nil || got["x"] != c {
			t.Fatalf("round trip: %v %v", got, err)
		}
	}
}
