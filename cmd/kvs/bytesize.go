package main

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a size flag and YAML value (--spool-max, --buffer-size).
type byteSize int64

// maxByteSize bounds a size: a petabyte is no size a flag means.
const maxByteSize = 1 << 50

// sizeUnits are the units a size may carry, read as dd reads them: K, M, G
// and T (and KiB, MiB, GiB, TiB) are powers of 1024; KB, MB, GB and TB
// powers of 1000. Case does not matter.
var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// parseByteSize reads a positive size such as 8000000, 16MB, 64MiB or 500M.
func parseByteSize(s string) (byteSize, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') && t[i-1] != '.' {
		i--
	}
	mult, ok := sizeUnits[strings.ToLower(strings.TrimSpace(t[i:]))]
	v, err := strconv.ParseFloat(t[:i], 64)
	if !ok || err != nil || v*mult < 1 || v*mult > maxByteSize {
		return 0, fmt.Errorf("size %q: want a positive number of bytes with an optional unit, such as 16MB (10^6), 64MiB or 64M (2^20)", s)
	}
	return byteSize(v * mult), nil
}

func (b *byteSize) String() string { return humanBytes(float64(*b)) }
func (b *byteSize) Type() string   { return "size" }
func (b *byteSize) Set(s string) error {
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// UnmarshalText reads the YAML value.
func (b *byteSize) UnmarshalText(text []byte) error { return b.Set(string(text)) }
