package v4l2

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ListDevices describes every /dev/video* node: driver, card, bus,
// capabilities, and formats with their frame sizes and intervals. A node
// that cannot be opened is listed with Err set.
func ListDevices() ([]DeviceInfo, error) {
	return listDevices("/dev")
}

func listDevices(dir string) ([]DeviceInfo, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "video*"))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(paths, func(a, b string) int { return videoIndex(a) - videoIndex(b) })
	out := make([]DeviceInfo, 0, len(paths))
	for _, p := range paths {
		out = append(out, describe(p))
	}
	return out, nil
}

// videoIndex is N of /dev/videoN, for numeric ordering.
func videoIndex(p string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(p), "video"))
	if err != nil {
		return 1 << 30
	}
	return n
}

func describe(path string) DeviceInfo {
	info := DeviceInfo{Path: path}
	d, err := openDevice(path)
	if err != nil {
		info.Err = err.Error()
		return info
	}
	defer d.close()
	info.Driver, info.Card, info.BusInfo = d.driver(), d.card(), d.busInfo()
	caps := d.caps()
	info.Capabilities = capNames(caps)
	info.M2M = caps&(capVideoM2M|capVideoM2MMplane) != 0
	info.Capture = !info.M2M && caps&(capVideoCapture|capVideoCaptureMplane) != 0 && caps&capStreaming != 0
	capType, outType := uint32(bufTypeVideoCapture), uint32(bufTypeVideoOutput)
	if caps&(capVideoM2MMplane|capVideoCaptureMplane) != 0 && caps&(capVideoM2M|capVideoCapture) == 0 {
		capType, outType = bufTypeVideoCaptureMplane, bufTypeVideoOutputMplane
	}
	if info.Capture || info.M2M {
		info.Formats = formatInfos(d, capType, info.Capture)
	}
	if info.M2M {
		info.InputFormats = formatInfos(d, outType, false)
		for _, f := range info.Formats {
			if f.PixelFormat == "H264" {
				info.H264Encoder = true
			}
		}
	}
	return info
}

func formatInfos(d *device, typ uint32, sizes bool) []FormatInfo {
	fmts, _ := d.enumFormats(typ)
	out := make([]FormatInfo, 0, len(fmts))
	for _, f := range fmts {
		fi := FormatInfo{PixelFormat: fourccString(f.pixfmt), Description: f.description, Compressed: f.compressed}
		if sizes {
			fi.Sizes, _ = d.enumFrameSizes(f.pixfmt)
			fi.Capture = formatCapture(f.pixfmt, isMplane(typ))
		}
		out = append(out, fi)
	}
	return out
}

// findM2MEncoder returns the first memory-to-memory device whose CAPTURE
// queue produces coded.
func findM2MEncoder(coded uint32) (string, bool) {
	devs, _ := ListDevices()
	want := fourccString(coded)
	for _, d := range devs {
		if !d.M2M {
			continue
		}
		for _, f := range d.Formats {
			if f.PixelFormat == want {
				return d.Path, true
			}
		}
	}
	return "", false
}
