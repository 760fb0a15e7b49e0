package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"kvskit/internal/awsauth"
	"kvskit/server"
)

type credsOptions struct {
	dataDir     string
	credentials string
	profile     string
	duration    time.Duration
	output      string
}

func newCredsCmd() *cobra.Command {
	o := credsOptions{}
	cmd := &cobra.Command{
		Use:   "creds",
		Short: "Mint temporary credentials for kvs serve",
		Long: `Mint temporary credentials (access key id, secret access key and session
token) that kvs serve accepts until they expire, from a long-term key of its
credentials file and the data dir's session key (DATA-DIR/session.key, made
on first use). No server needs to run; a restarted server still accepts them.
Once expired, requests signed with them get 403 ExpiredTokenException.
Deleting DATA-DIR/session.key revokes every token issued so far; so does
removing or changing the long-term key they were minted from.

--output env prints shell exports:
  eval "$(kvs creds --data-dir DIR --duration 1h)"
--output json prints the AWS CLI's credential_process shape, so a profile of
the AWS config file can fetch fresh credentials by itself:
  [profile kvs]
  credential_process = kvs creds --data-dir /abs/DIR --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCreds(cmd.OutOrStdout(), o, time.Now())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", "kvs-data", "data dir of the kvs serve the credentials are for")
	f.StringVar(&o.credentials, "credentials", "", "credentials file of that kvs serve (default DATA-DIR/credentials)")
	f.StringVar(&o.profile, "profile", "default", "profile of the credentials file whose key signs for the temporary credentials")
	f.DurationVar(&o.duration, "duration", time.Hour, fmt.Sprintf("how long the credentials are valid (1s to %v)", awsauth.MaxSessionDuration))
	f.StringVar(&o.output, "output", "env", "format: env (shell exports) or json (credential_process)")
	return cmd
}

func runCreds(out io.Writer, o credsOptions, now time.Time) error {
	if o.output != "env" && o.output != "json" {
		return fmt.Errorf("--output %q: want env or json", o.output)
	}
	if o.duration < time.Second || o.duration > awsauth.MaxSessionDuration {
		return fmt.Errorf("--duration %v: must be from 1s to %v", o.duration, awsauth.MaxSessionDuration)
	}
	path := o.credentials
	if path == "" {
		path = filepath.Join(o.dataDir, "credentials")
	}
	if _, err := os.Stat(o.dataDir); err != nil {
		return fmt.Errorf("data dir: %w (start kvs serve --data-dir %s once to make it)", err, o.dataDir)
	}
	if err := server.PrepareDataDir(o.dataDir, nil); err != nil {
		return err
	}
	profiles, err := awsauth.LoadCredentialsFile(path)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	parent, ok := profiles[o.profile]
	if !ok {
		return fmt.Errorf("credentials file %s has no profile %q with keys", path, o.profile)
	}
	parent.SessionToken = ""
	iss, err := server.SessionIssuer(o.dataDir)
	if err != nil {
		return err
	}
	expires := now.Add(o.duration).Truncate(time.Second)
	if expires.Before(now.Add(o.duration)) {
		expires = expires.Add(time.Second) // whole seconds, never shorter than asked
	}
	if expires.Sub(now) > awsauth.MaxSessionDuration {
		expires = expires.Add(-time.Second)
	}
	c, err := iss.Issue(parent, now, expires)
	if err != nil {
		return err
	}
	exp := expires.UTC().Format(time.RFC3339)
	if o.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{
			"Version": 1, "AccessKeyId": c.AccessKeyID, "SecretAccessKey": c.SecretAccessKey,
			"SessionToken": c.SessionToken, "Expiration": exp,
		})
	}
	_, err = fmt.Fprintf(out, "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_SESSION_TOKEN=%s\n# expires %s\n",
		c.AccessKeyID, c.SecretAccessKey, c.SessionToken, exp)
	return err
}
