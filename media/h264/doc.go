// Package h264 parses and converts H.264 (AVC) bitstreams: it splits Annex-B
// byte streams and length-prefixed (AVCC) access units into NAL units and
// converts between the two forms, decodes sequence parameter sets for picture
// dimensions, frame rate and frame reordering, reads picture parameter sets
// and slice headers to compute picture order counts (POC, the output order
// of pictures coded out of order), and builds and parses the
// AVCDecoderConfigurationRecord that is a track's CodecPrivate.
package h264
