//go:build x264 && cgo

package v4l2

import (
	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/codec/x264"
)

func init() {
	softwareEncoders["x264"] = func(bitrate, keyint int) (codec.VideoEncoderBuilder, error) {
		p, err := x264.NewParams()
		if err != nil {
			return nil, err
		}
		p.BitRate = bitrate
		p.KeyFrameInterval = keyint
		p.Preset = x264.PresetVeryfast
		return &p, nil
	}
}
