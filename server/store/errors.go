package store

import "errors"

// ErrInvalid: an argument is malformed (an empty name or ARN, a fragment
// number that is not 47 decimal digits, an unknown timestamp kind).
var ErrInvalid = errors.New("store: invalid argument")
