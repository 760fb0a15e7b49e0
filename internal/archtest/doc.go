// Package archtest holds the architecture test that keeps kvs's packages on
// their floors: a package imports only packages on lower floors (or its own
// room), as docs/architecture.md describes.
package archtest
