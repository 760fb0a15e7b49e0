// Package awsauth does AWS Signature Version 4: it signs the requests and
// presigns the URLs of this module's hand-written Kinesis Video Streams
// clients, and verifies the signatures of requests arriving at the local
// KVS-compatible endpoint. It also reads and writes AWS shared-credentials
// files and makes random credentials for that endpoint.
package awsauth
