package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kvskit/internal/awsauth"
	"kvskit/server"
)

// TestCredsEnvOutput: --output env prints the three exports the AWS CLI and
// SDKs read, and the data dir's issuer resolves what they hold.
func TestCredsEnvOutput(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := server.PrepareDataDir(dir, nil); err != nil {
		t.Fatal(err)
	}
	parent, err := awsauth.NewRandomCredentials()
	if err != nil {
		t.Fatal(err)
	}
	if err := awsauth.WriteCredentialsFile(filepath.Join(dir, "credentials"), "default", parent); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var out bytes.Buffer
	if err := runCreds(&out, credsOptions{dataDir: dir, profile: "default", duration: 90 * time.Minute, output: "env"}, now); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		kv, ok := strings.CutPrefix(line, "export ")
		k, v, ok2 := strings.Cut(kv, "=")
		if !ok || !ok2 || strings.ContainsAny(v, " '\"$`\\;&|") {
			t.Fatalf("line %q is not a plain export", line)
		}
		vars[k] = v
	}
	iss, err := server.SessionIssuer(dir)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(id string) (string, bool) { return parent.SecretAccessKey, id == parent.AccessKeyID }
	secret, err := iss.Resolve(vars["AWS_ACCESS_KEY_ID"], vars["AWS_SESSION_TOKEN"], lookup, now.Add(89*time.Minute))
	if err != nil || secret != vars["AWS_SECRET_ACCESS_KEY"] {
		t.Fatalf("exports %v do not resolve: %v", vars, err)
	}
	if _, err := iss.Resolve(vars["AWS_ACCESS_KEY_ID"], vars["AWS_SESSION_TOKEN"], lookup, now.Add(91*time.Minute)); err == nil {
		t.Fatal("credentials valid past --duration")
	}
	for _, o := range []credsOptions{
		{dataDir: dir, profile: "default", duration: 37 * time.Hour, output: "env"},
		{dataDir: dir, profile: "default", duration: time.Hour, output: "yaml"},
		{dataDir: dir, profile: "missing", duration: time.Hour, output: "env"},
		{dataDir: filepath.Join(dir, "nope"), profile: "default", duration: time.Hour, output: "env"},
	} {
		if err := runCreds(&out, o, now); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
