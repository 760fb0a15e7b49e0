package main

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a size flag and YAML value: a number of bytes with an
// optional K, M, G or T suffix (powers of 1024; "B" and "iB" accepted).
type byteSize int64

func parseByteSize(s string) (byteSize, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || v <= 0 || v*float64(mult) >= 1<<62 {
		return 0, fmt.Errorf("size %q: want a positive number of bytes, with an optional K, M, G or T suffix", s)
	}
	return byteSize(v * float64(mult)), nil
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
