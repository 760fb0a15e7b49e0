package awsauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"kvskit/internal/awsauth"
)

func ExampleVerifier() {
	creds := awsauth.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	now := time.Date(2024, 5, 17, 12, 0, 0, 0, time.UTC)

	v := &awsauth.Verifier{
		Region:  "us-east-1",
		Service: awsauth.Service,
		Lookup: func(id string) (string, bool) {
			if id == creds.AccessKeyID {
				return creds.SecretAccessKey, true
			}
			return "", false
		},
		Now: func() time.Time { return now },
	}

	// A client signs a PutMedia request; the server verifies it.
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4566/putMedia", strings.NewReader("mkv..."))
	req.Header.Set("x-amzn-stream-name", "front-door")
	if err := awsauth.SignRequest(context.Background(), req, creds, "us-east-1", awsauth.UnsignedPayload, now); err != nil {
		fmt.Println(err)
		return
	}
	id, err := v.Verify(req)
	fmt.Println("verified:", id, err)

	// Someone retargets the signed request at another stream.
	req.Header.Set("x-amzn-stream-name", "back-door")
	_, err = v.Verify(req)
	var ae *awsauth.Error
	if errors.As(err, &ae) {
		fmt.Println(ae.StatusCode(), ae.Code)
	}
	// Output:
	// verified: AKIAIOSFODNN7EXAMPLE <nil>
	// 403 InvalidSignatureException
}
