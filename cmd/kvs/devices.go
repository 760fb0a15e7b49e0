package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"kvskit/device/v4l2"
)

func newDevicesCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List V4L2 cameras and encoders with their formats, sizes and rates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			devs, err := v4l2.ListDevices()
			if err != nil {
				return fmt.Errorf("list V4L2 devices: %w", err)
			}
			w := cmd.OutOrStdout()
			switch output {
			case "json":
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"devices": devs, "encoders": v4l2.Encoders()})
			case "text":
				printDevices(w, devs)
				return nil
			}
			return fmt.Errorf("--output %q: want text or json", output)
		},
	}
	cmd.Flags().StringVar(&output, "output", "text", "text or json")
	return cmd
}

func printDevices(w io.Writer, devs []v4l2.DeviceInfo) {
	if len(devs) == 0 {
		fmt.Fprintln(w, "no V4L2 devices (/dev/video*)")
	}
	for _, d := range devs {
		kind := "other"
		switch {
		case d.H264Encoder:
			kind = "H.264 encoder (memory-to-memory)"
		case d.M2M:
			kind = "memory-to-memory"
		case d.Capture:
			kind = "camera"
		}
		fmt.Fprintf(w, "%s  %s (%s, %s) — %s\n", d.Path, d.Card, d.Driver, d.BusInfo, kind)
		if d.Err != "" {
			fmt.Fprintf(w, "    error: %s\n", d.Err)
			continue
		}
		for _, f := range d.Formats {
			var sizes []string
			for _, s := range f.Sizes {
				sz := fmt.Sprintf("%dx%d", s.Width, s.Height)
				if s.Stepwise {
					sz = fmt.Sprintf("%dx%d-%dx%d", s.MinWidth, s.MinHeight, s.Width, s.Height)
				}
				var rates []string
				for _, iv := range s.Intervals {
					rates = append(rates, strconv.FormatFloat(iv.FPS(), 'f', -1, 64)+"fps")
				}
				if len(rates) > 0 {
					sz += "@" + strings.Join(rates, ",")
				}
				sizes = append(sizes, sz)
			}
			line := fmt.Sprintf("    %-5s %s: %s", f.PixelFormat, f.Description, strings.Join(sizes, " "))
			if d.Capture {
				line += "  [" + captureNote(f) + "]"
			}
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintf(w, "encoders in this build: %s\n", strings.Join(v4l2.Encoders(), ", "))
}

// captureNote says how `kvs capture` reads a camera format.
func captureNote(f v4l2.FormatInfo) string {
	switch {
	case f.Capture == "native" && f.Compressed:
		return "pass-through, native capture"
	case f.Capture == "native":
		return "encoded, native capture (or capture=mediadevices)"
	case f.Capture == "mediadevices":
		return "decoded and encoded, mediadevices capture"
	}
	return "not usable"
}
