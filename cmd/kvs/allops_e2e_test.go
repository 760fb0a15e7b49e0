package main

import (
	"strings"
	"testing"
)

// TestEveryKinesisVideoOperation calls every operation of botocore's
// kinesisvideo model through boto3 against a kvs serve process. The script
// fails for an operation of the model it has no example for, so a newer
// botocore's new operation is noticed, and for any operation the endpoint does
// not answer; it also checks the configurations' round trips and refusals.
func TestEveryKinesisVideoOperation(t *testing.T) {
	p := startServe(t, t.TempDir())
	out, err := p.python(t, "allops.py", p.URL, p.Region)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "all checks passed") {
		t.Fatalf("allops.py did not finish:\n%s", out)
	}
	t.Logf("%d checks", strings.Count(out, "ok:"))
}
