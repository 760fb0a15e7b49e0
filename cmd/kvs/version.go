package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"kvskit/device/v4l2"
)

// version, commit and commitDate are stamped by `make build`
// (-ldflags "-X main.version=... -X main.commit=... -X main.commitDate=...");
// otherwise the build information's module version and VCS stamp are shown.
var version, commit, commitDate string

// versionText is what kvs --version prints: the version, the commit and its
// date, the Go version and platform, and the encoders of this build.
func versionText() string {
	v, rev, date, dirty := version, commit, commitDate, false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && rev == "":
				rev = s.Value
			case s.Key == "vcs.time" && date == "":
				date = s.Value
			case s.Key == "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	if date == "" {
		date = "unknown"
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	if dirty {
		rev += " (modified)"
	}
	return fmt.Sprintf("%s\ncommit: %s\ncommit date: %s\ngo: %s %s/%s\nencoders: %s\n",
		v, rev, date, runtime.Version(), runtime.GOOS, runtime.GOARCH, strings.Join(v4l2.Encoders(), ", "))
}
