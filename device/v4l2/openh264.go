//go:build openh264 && cgo

package v4l2

import (
	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/codec/openh264"
)

func init() {
	softwareEncoders["openh264"] = func(bitrate, keyint int) (codec.VideoEncoderBuilder, error) {
		p, err := openh264.NewParams()
		if err != nil {
			return nil, err
		}
		p.BitRate = bitrate
		p.KeyFrameInterval = keyint
		p.IntraPeriod = uint(keyint)
		return &p, nil
	}
}
