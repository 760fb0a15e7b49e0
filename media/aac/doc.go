// Package aac handles the framing and configuration of AAC audio: it splits
// ADTS streams into raw AAC frames and writes ADTS headers, and decodes and
// encodes the AudioSpecificConfig that is an AAC track's CodecPrivate.
package aac
