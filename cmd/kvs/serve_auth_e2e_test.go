package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kvskit/internal/awsauth"
	"kvskit/internal/testenv"
)

// TestServeDataDirModes: kvs serve refuses a data dir others can write to,
// naming the risk, and otherwise makes its own files 0600 in 0700 dirs.
func TestServeDataDirModes(t *testing.T) {
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kvsBin, "serve", "--listen", "127.0.0.1:0", "--data-dir", open).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "group or others can write to it") || !strings.Contains(string(out), "chmod go-w") {
		t.Fatalf("kvs serve on a 0777 data dir: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(open, "credentials")); err == nil {
		t.Fatal("credentials written into a refused data dir")
	}

	dir := filepath.Join(t.TempDir(), "data")
	p := startServe(t, dir)
	p.Stop()
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if perm := info.Mode().Perm(); (d.IsDir() && perm != 0o700) || (!d.IsDir() && perm != 0o600) {
			t.Errorf("%s has mode %#o", path, perm)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tempCreds runs kvs creds --output json against a data dir.
type tempCreds struct {
	Version         int
	AccessKeyId     string
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

func mintCreds(t *testing.T, dataDir string, args ...string) tempCreds {
	t.Helper()
	out, err := exec.Command(kvsBin, append([]string{"creds", "--data-dir", dataDir, "--output", "json"}, args...)...).Output()
	if err != nil {
		t.Fatalf("kvs creds: %v", err)
	}
	var c tempCreds
	if err := json.Unmarshal(out, &c); err != nil || c.Version != 1 || c.SessionToken == "" {
		t.Fatalf("kvs creds output %q: %v", out, err)
	}
	return c
}

// envWith is the server's client environment with temporary credentials in
// the environment instead of the shared credentials file.
func (p *serveProc) envWith(c tempCreds) []string {
	var env []string
	for _, kv := range p.Env() {
		if !strings.HasPrefix(kv, "AWS_SHARED_CREDENTIALS_FILE=") {
			env = append(env, kv)
		}
	}
	return append(env, "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_ACCESS_KEY_ID="+c.AccessKeyId,
		"AWS_SECRET_ACCESS_KEY="+c.SecretAccessKey, "AWS_SESSION_TOKEN="+c.SessionToken)
}

// TestServeTemporaryCredentials: credentials minted by kvs creds work with
// the AWS CLI (from the environment and through credential_process) and
// with kvs put, until they expire; then both get 403 ExpiredTokenException.
func TestServeTemporaryCredentials(t *testing.T) {
	awsBin := testenv.Tool(t, "aws")
	dir := t.TempDir()
	clip := makeClip(t, dir, 2)
	data := filepath.Join(dir, "data")
	p := startServe(t, data)

	awsAs := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(awsBin, append([]string{"--endpoint-url", p.URL, "--region", p.Region, "--output", "json"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	putAs := func(env []string, stream string) (string, error) {
		cmd := exec.Command(kvsBin, "put", clip, "--stream", stream, "--create-stream", "--output", "json")
		cmd.Env = append(env, "AWS_ENDPOINT_URL_KINESIS_VIDEO="+p.URL)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	long := mintCreds(t, data, "--duration", "1h")
	exp, err := time.Parse(time.RFC3339, long.Expiration)
	if err != nil || exp.Before(time.Now().Add(59*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
		t.Fatalf("expiration %q: %v", long.Expiration, err)
	}
	if out, err := awsAs(p.envWith(long), "kinesisvideo", "create-stream", "--stream-name", "by-cli", "--data-retention-in-hours", "1"); err != nil {
		t.Fatalf("aws CLI with temporary credentials: %v\n%s", err, out)
	}
	if out, err := putAs(p.envWith(long), "by-put"); err != nil {
		t.Fatalf("kvs put with temporary credentials: %v\n%s", err, out)
	}
	if frags := p.fragmentsOf(t, "by-put"); len(frags) == 0 {
		t.Fatal("kvs put with temporary credentials stored nothing")
	}

	// credential_process: the AWS CLI runs kvs creds itself.
	cfg := filepath.Join(dir, "aws-config")
	abs, _ := filepath.Abs(data)
	if err := os.WriteFile(cfg, []byte("[profile kvs]\ncredential_process = "+kvsBin+" creds --data-dir "+abs+" --output json --duration 15m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(p.envWith(tempCreds{}), "AWS_CONFIG_FILE="+cfg)
	var procEnv []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") && !strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") &&
			!strings.HasPrefix(kv, "AWS_SESSION_TOKEN=") && kv != "AWS_CONFIG_FILE=/dev/null" {
			procEnv = append(procEnv, kv)
		}
	}
	if out, err := awsAs(procEnv, "--profile", "kvs", "kinesisvideo", "describe-stream", "--stream-name", "by-cli"); err != nil || !strings.Contains(out, "by-cli") {
		t.Fatalf("aws CLI through credential_process: %v\n%s", err, out)
	}

	// Short-lived credentials work, then expire.
	short := mintCreds(t, data, "--duration", "12s")
	if out, err := awsAs(p.envWith(short), "kinesisvideo", "list-streams"); err != nil {
		t.Fatalf("aws CLI with fresh short credentials: %v\n%s", err, out)
	}
	exp, _ = time.Parse(time.RFC3339, short.Expiration)
	time.Sleep(time.Until(exp) + 200*time.Millisecond)
	if out, err := awsAs(p.envWith(short), "kinesisvideo", "list-streams"); err == nil || !strings.Contains(out, "ExpiredTokenException") {
		t.Fatalf("aws CLI with expired credentials: %v\n%s", err, out)
	}
	if out, err := putAs(p.envWith(short), "by-put"); err == nil || !strings.Contains(out, "ExpiredTokenException") {
		t.Fatalf("kvs put with expired credentials: %v\n%s", err, out)
	}
}

// TestSigV4RefusalMatrix sends requests signed by botocore, each wrong in one
// way, and checks that every one gets 403 with the error type AWS answers
// (x-amzn-ErrorType), next to two correctly signed controls that pass.
func TestSigV4RefusalMatrix(t *testing.T) {
	py := testenv.Python(t, "botocore")
	data := filepath.Join(t.TempDir(), "data")
	p := startServe(t, data)
	profiles, err := awsauth.LoadCredentialsFile(p.Creds)
	if err != nil {
		t.Fatal(err)
	}
	c := profiles["default"]
	expired := mintCreds(t, data, "--duration", "1s")
	valid := mintCreds(t, data, "--duration", "1h")
	expJSON, _ := json.Marshal(expired)
	validJSON, _ := json.Marshal(valid)
	exp, _ := time.Parse(time.RFC3339, expired.Expiration)
	time.Sleep(time.Until(exp) + 100*time.Millisecond)

	cmd := exec.Command(py, filepath.Join("testdata", "sigv4_matrix.py"), p.URL, p.Region, c.AccessKeyID, c.SecretAccessKey,
		string(validJSON), string(expJSON))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sigv4_matrix.py: %v\n%s", err, stderr.String())
	}
	want := map[string]string{
		"control: valid signature":             "",
		"control: valid temporary credentials": "",
		"unsigned":                             awsauth.CodeMissingAuthenticationToken,
		"wrong secret":                         awsauth.CodeInvalidSignature,
		"unknown key":                          awsauth.CodeUnrecognizedClient,
		"wrong region":                         awsauth.CodeInvalidSignature,
		"wrong service":                        awsauth.CodeInvalidSignature,
		"clock +10 min":                        awsauth.CodeInvalidSignature,
		"clock -10 min":                        awsauth.CodeInvalidSignature,
		"presigned URL expired":                awsauth.CodeInvalidSignature,
		"presigned X-Amz-Expires over 7 days":  awsauth.CodeInvalidSignature,
		"body swapped under UNSIGNED-PAYLOAD":  awsauth.CodeInvalidSignature,
		"body swapped under its hash":          awsauth.CodeInvalidSignature,
		"session token never issued":           awsauth.CodeUnrecognizedClient,
		"session token expired":                awsauth.CodeExpiredToken,
	}
	// What each refusal's message must say, so that the right check refused it.
	says := map[string]string{
		"wrong secret":                        "signature does not match",
		"wrong region":                        "region eu-west-1",
		"wrong service":                       "service kinesis does not match",
		"clock +10 min":                       "not yet current",
		"clock -10 min":                       "Signature expired",
		"presigned URL expired":               "X-Amz-Expires 60",
		"presigned X-Amz-Expires over 7 days": "X-Amz-Expires \"604801\"",
		"body swapped under UNSIGNED-PAYLOAD": "UNSIGNED-PAYLOAD is not accepted",
		"session token expired":               "expired",
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			Case, Type, Message, Body string
			Status                    int
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		code, ok := want[r.Case]
		if !ok {
			t.Errorf("unexpected case %q", r.Case)
			continue
		}
		seen++
		switch {
		case code == "" && r.Status != 200:
			t.Errorf("%s: %d %s %s, want 200", r.Case, r.Status, r.Type, r.Message)
		case code != "" && (r.Status != 403 || r.Type != code):
			t.Errorf("%s: %d %q %s, want 403 %s", r.Case, r.Status, r.Type, r.Message, code)
		case !strings.Contains(r.Message, says[r.Case]):
			t.Errorf("%s: message %q does not say %q", r.Case, r.Message, says[r.Case])
		}
	}
	if seen != len(want) {
		t.Errorf("%d of %d cases ran:\n%s", seen, len(want), out)
	}
	if out, _, err := p.aws(t, "kinesisvideo", "list-streams"); err != nil || strings.Contains(out, "swapped") || strings.Contains(out, "intended") {
		t.Errorf("a refused request created a stream: %v\n%s", err, out)
	}
}

// TestServeSTSGetSessionToken: the AWS CLI's own STS client gets temporary
// credentials from kvs serve, which then work for kinesisvideo; session
// credentials cannot call it again, and a bad signature gets STS's error.
func TestServeSTSGetSessionToken(t *testing.T) {
	p := startServe(t, filepath.Join(t.TempDir(), "data"))
	out, errOut, err := p.aws(t, "sts", "get-session-token", "--duration-seconds", "900")
	if err != nil {
		t.Fatalf("aws sts get-session-token: %v\n%s", err, errOut)
	}
	var res struct {
		Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken, Expiration string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Credentials.SessionToken == "" {
		t.Fatalf("get-session-token output %q: %v", out, err)
	}
	exp, err := time.Parse(time.RFC3339, res.Credentials.Expiration)
	if err != nil || time.Until(exp) > 15*time.Minute || time.Until(exp) < 14*time.Minute {
		t.Fatalf("expiration %q: %v", res.Credentials.Expiration, err)
	}
	temp := tempCreds{AccessKeyId: res.Credentials.AccessKeyId, SecretAccessKey: res.Credentials.SecretAccessKey, SessionToken: res.Credentials.SessionToken}
	awsBin := testenv.Tool(t, "aws")
	awsAs := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(awsBin, append([]string{"--endpoint-url", p.URL, "--region", p.Region, "--output", "json"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := awsAs(p.envWith(temp), "kinesisvideo", "list-streams"); err != nil {
		t.Fatalf("kinesisvideo with STS credentials: %v\n%s", err, out)
	}
	if out, err := awsAs(p.envWith(temp), "sts", "get-session-token"); err == nil || !strings.Contains(out, "AccessDenied") {
		t.Fatalf("get-session-token with session credentials: %v\n%s", err, out)
	}
	wrong := tempCreds{AccessKeyId: temp.AccessKeyId, SecretAccessKey: otherSecret(temp.SecretAccessKey)}
	env := p.envWith(wrong)
	var noToken []string
	for _, kv := range env {
		if kv != "AWS_SESSION_TOKEN=" {
			noToken = append(noToken, kv)
		}
	}
	if out, err := awsAs(noToken, "sts", "get-session-token"); err == nil || !strings.Contains(out, "InvalidClientTokenId") {
		t.Fatalf("get-session-token with an unknown key: %v\n%s", err, out)
	}
}
