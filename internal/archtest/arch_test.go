package archtest

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "kvskit"

// rooms maps a top-level room (path below the module) to its floor, in tenths:
// device reads Matroska files with mkv, so it sits half a floor above it.
var rooms = map[string]int{
	"media":             10,
	"samples/clip":      10,
	"internal/awsauth":  10,
	"internal/testenv":  10,
	"internal/archtest": 10,
	"mkv":               20,
	"internal/kvsapi":   20,
	"fragment":          20,
	"device":            25,
	"producer":          30,
	"hls":               30,
	"webrtc":            30,
	"server":            40,
	"cmd":               50,
	"samples":           60,
	"bench":             60,
}

// room returns the room a module package belongs to.
func room(pkg string) (string, bool) {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	best := ""
	for r := range rooms {
		if (rel == r || strings.HasPrefix(rel, r+"/")) && len(r) > len(best) {
			best = r
		}
	}
	return best, best != ""
}

// isTestOnly reports rooms whose code exists only to support tests.
func isTestOnly(r string) bool { return r == "internal/testenv" }

type goPkg struct {
	ImportPath string
	Imports    []string
}

func listPackages(t *testing.T) []goPkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []goPkg
	for {
		var p goPkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestFloors(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		from, ok := room(p.ImportPath)
		if !ok {
			t.Errorf("package %s is in no room of the architecture; add it to the table", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to, ok := room(imp)
			if !ok {
				t.Errorf("%s imports %s, which is in no room", p.ImportPath, imp)
				continue
			}
			if to == from {
				continue
			}
			if isTestOnly(to) {
				t.Errorf("%s imports test-support package %s outside tests", p.ImportPath, imp)
			}
			if rooms[to] >= rooms[from] {
				t.Errorf("%s (floor %.1f) imports %s (floor %.1f): imports must go to lower floors",
					p.ImportPath, float64(rooms[from])/10, imp, float64(rooms[to])/10)
			}
		}
	}
}

func TestRoomOf(t *testing.T) {
	cases := map[string]string{
		"kvskit/media/h264":       "media",
		"kvskit/internal/awsauth": "internal/awsauth",
		"kvskit/server/store":     "server",
		"kvskit/cmd/kvs":          "cmd",
		"kvskit/producer":         "producer",
		"kvskit/mediax":           "",
	}
	for in, want := range cases {
		got, _ := room(in)
		if got != want {
			t.Errorf("room(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCatchesViolation checks the rule itself on a made-up import.
func TestCatchesViolation(t *testing.T) {
	from, _ := room("kvskit/producer")
	to, _ := room("kvskit/server")
	if rooms[to] < rooms[from] {
		t.Fatal("producer -> server must be refused by the floor rule")
	}
}
