// Package h265 parses H.265 (HEVC) bitstreams: NAL unit headers and types,
// key-frame detection, sequence parameter sets for picture dimensions, the
// start of picture parameter sets and slice segment headers for picture
// order counts (the output order of pictures coded out of order), and the
// HEVCDecoderConfigurationRecord that is a track's CodecPrivate.
//
// The Annex-B byte stream and the 4-byte length-prefixed form are framed the
// same way as in H.264, so h264.SplitAnnexB, h264.NextNALU,
// h264.AnnexBToAVCC, h264.AVCCToAnnexB and h264.SplitAVCC apply to H.265
// unchanged.
package h265
