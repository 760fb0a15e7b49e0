package producer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"kvskit/media"
	"kvskit/producer"
	"kvskit/server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// upload writes every frame and closes the producer.
func upload(t *testing.T, p *producer.Producer, frames []media.Frame) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, f := range frames {
		if err := p.WriteFrame(ctx, f); err != nil {
			t.Fatalf("WriteFrame %d: %v", i, err)
		}
	}
	return p.Close(ctx)
}

func TestRoundTripClip(t *testing.T) {
	tracks, frames := clip(t, 7)
	ep := startEndpoint(t, server.Limits{})
	cfg := ep.producerConfig(t, "roundtrip")
	cfg.StartTime = time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.UTC)
	cfg.Block = true
	log := newEventLog()
	cfg.OnEvent = log.add
	p, err := producer.New(context.Background(), cfg, tracks)
	if err != nil {
		t.Fatal(err)
	}
	if err := upload(t, p, frames); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st := p.Stats()
	if st.Frames != uint64(len(frames)) {
		t.Errorf("Stats.Frames = %d, want %d", st.Frames, len(frames))
	}
	if want := len(frames) - len(keptFrames(frames)); st.FramesSkipped != uint64(want) {
		t.Errorf("Stats.FramesSkipped = %d, want the %d video frames before the first key frame", st.FramesSkipped, want)
	}
	if st.Fragments < 3 || st.Persisted != st.Fragments || st.Duplicates != 0 || st.Dropped != 0 || st.Failed != 0 {
		t.Errorf("stats %+v: want every fragment persisted once", st)
	}
	if st.BufferFragments != 0 || st.BufferBytes != 0 {
		t.Errorf("buffer not empty after Close: %+v", st)
	}
	if st.BytesSent <= 0 || st.Sessions != 1 {
		t.Errorf("stats %+v: want bytes sent in one session", st)
	}
	persisted := log.of(producer.FragmentPersisted)
	seen := map[uint64]bool{}
	for _, ev := range persisted {
		if ev.Number == "" || ev.Timecode == 0 {
			t.Errorf("persisted event without number or timecode: %+v", ev)
		}
		seen[ev.Fragment] = true
	}
	if uint64(len(seen)) != st.Fragments {
		t.Errorf("PERSISTED events for %d distinct fragments, want %d", len(seen), st.Fragments)
	}
	if len(log.of(producer.StreamReady)) != 1 || len(log.of(producer.SessionStarted)) != 1 {
		t.Errorf("want one StreamReady and one SessionStarted event")
	}

	got, prodTS := ep.readBack(t, "roundtrip")
	kept := keptFrames(frames)
	if dups := wantFrames(t, cfg.StartTime, kept, got); dups != 0 {
		t.Errorf("%d duplicate frames in the archive", dups)
	}
	if len(prodTS) != int(st.Fragments) {
		t.Fatalf("archive has %d fragments, want %d", len(prodTS), st.Fragments)
	}
	if want := cfg.StartTime.Add(kept[0].PTS); !prodTS[0].Equal(want) {
		t.Errorf("first fragment's producer timestamp %v, want StartTime + %v = %v", prodTS[0].UTC(), kept[0].PTS, want)
	}
	// The archive's timestamps are those of the clip shifted to StartTime.
	if last := prodTS[len(prodTS)-1]; last.Sub(cfg.StartTime) > 7*time.Second || last.Before(cfg.StartTime.Add(4*time.Second)) {
		t.Errorf("last fragment at %v, %v after StartTime", last.UTC(), last.Sub(cfg.StartTime))
	}
}

func TestReconnectAfterEndpointRestart(t *testing.T) {
	tracks := synthTracks()
	frames := synthFrames(30*12, 30, 15, 4000) // 12 s, a key frame every 0.5 s
	ep := startEndpoint(t, server.Limits{})
	cfg := ep.producerConfig(t, "reconnect")
	cfg.StartTime = time.Now().Add(-time.Hour)
	cfg.Block = true
	cfg.FragmentDuration = 500 * time.Millisecond
	cfg.MaxFragmentsPerSecond = 8 // spread the upload over about 3 s
	log := newEventLog()
	cfg.OnEvent = log.add
	p, err := producer.New(context.Background(), cfg, tracks)
	if err != nil {
		t.Fatal(err)
	}
	if err := uploadWithRestart(t, ep, p, frames, log, 4); err != nil {
		t.Fatalf("upload: %v", err)
	}
	st := p.Stats()
	t.Logf("stats after restart: %+v", st)
	if st.Reconnects < 1 || st.Sessions < 2 {
		t.Errorf("stats %+v: want a reconnect", st)
	}
	if st.Persisted < st.Fragments || st.Dropped != 0 || st.Failed != 0 {
		t.Errorf("stats %+v: want every fragment persisted", st)
	}
	if len(log.of(producer.Reconnecting)) == 0 {
		t.Error("no Reconnecting event")
	}
	got, _ := ep.readBack(t, "reconnect")
	dups := wantFrames(t, cfg.StartTime, frames, got)
	t.Logf("archive holds %d duplicate frames; %d fragments were sent again", dups, st.Duplicates)
	if dups > 0 && st.Duplicates == 0 {
		t.Error("the archive holds duplicates but Stats.Duplicates is 0")
	}
}

func TestSessionRotation(t *testing.T) {
	tracks := synthTracks()
	frames := synthFrames(30*6, 30, 6, 2000) // 6 s, fragments of 0.2 s
	ep := startEndpoint(t, server.Limits{})
	cfg := ep.producerConfig(t, "rotation")
	cfg.Block = true
	cfg.FragmentDuration = 200 * time.Millisecond
	cfg.MaxFragmentsPerSecond = 10 // 30 fragments take about 3 s
	cfg.SessionRotation = 700 * time.Millisecond
	p, err := producer.New(context.Background(), cfg, tracks)
	if err != nil {
		t.Fatal(err)
	}
	if err := upload(t, p, frames); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st := p.Stats()
	if st.Sessions < 3 {
		t.Errorf("%d sessions, want the session renewed at least twice", st.Sessions)
	}
	if st.Duplicates != 0 || st.Reconnects != 0 || st.Persisted != st.Fragments {
		t.Errorf("stats %+v: rotation must neither re-send nor lose", st)
	}
	got, _ := ep.readBack(t, "rotation")
	if dups := wantFrames(t, p.StartTime(), frames, got); dups != 0 {
		t.Errorf("%d duplicate frames in the archive", dups)
	}
}

func TestIdleFlush(t *testing.T) {
	ep := startEndpoint(t, server.Limits{})
	cfg := ep.producerConfig(t, "idle")
	cfg.IdleFlush = 150 * time.Millisecond
	log := newEventLog()
	cfg.OnEvent = log.add
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	frames := synthFrames(10, 30, 30, 1000) // a third of a second: shorter than a fragment
	for _, f := range frames {
		if err := p.WriteFrame(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	// Without new frames the open fragment is flushed, sent and persisted
	// while the producer stays open.
	log.waitFor(t, producer.FragmentPersisted, 1, 10*time.Second)
	if st := p.Stats(); st.Fragments != 1 || st.Persisted != 1 {
		t.Errorf("stats %+v: want one fragment persisted", st)
	}
	// Frames after the pause start a new fragment.
	more := synthFrames(45, 30, 30, 1000)[2*30:] // from the key frame at 1 s
	for _, f := range more {
		if err := p.WriteFrame(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := ep.readBack(t, "idle")
	wantFrames(t, p.StartTime(), append(frames, more...), got)
}

func TestRetentionZeroCompletesOnReceived(t *testing.T) {
	ep := startEndpoint(t, server.Limits{})
	cfg := ep.producerConfig(t, "noretention")
	cfg.RetentionHours = 0
	cfg.FragmentDuration = 500 * time.Millisecond
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	if err := upload(t, p, synthFrames(60, 30, 15, 1000)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st := p.Stats()
	if st.Persisted != 0 || st.Received != st.Fragments || st.Fragments < 3 || st.BufferFragments != 0 {
		t.Errorf("stats %+v: want every fragment RECEIVED (and none PERSISTED)", st)
	}
}

func TestCreateStreamWithRetentionAndTags(t *testing.T) {
	ep := startEndpoint(t, server.Limits{})
	cfg := ep.producerConfig(t, "created")
	cfg.RetentionHours = 5
	cfg.Tags = map[string]string{"site": "lab", "camera": "3"}
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err := ep.server().Store().Stream("created")
	if err != nil {
		t.Fatal(err)
	}
	if st.DataRetentionInHours != 5 || st.Tags["site"] != "lab" || st.Tags["camera"] != "3" {
		t.Errorf("stream record %+v: want retention 5 and the tags", st)
	}
	if !strings.Contains(st.MediaType, "video/h264") {
		t.Errorf("media type %q", st.MediaType)
	}

	// An existing stream is tagged (not created again).
	cfg.Tags = map[string]string{"owner": "ops"}
	cfg.RetentionHours = 1
	p, err = producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, _ = ep.server().Store().Stream("created")
	if st.Tags["owner"] != "ops" || st.Tags["site"] != "lab" || st.DataRetentionInHours != 5 {
		t.Errorf("stream record %+v: want the new tag added to the existing stream", st)
	}
}

func TestMissingStreamWithoutCreate(t *testing.T) {
	ep := startEndpoint(t, server.Limits{})
	cfg := ep.producerConfig(t, "absent")
	cfg.CreateStream = false
	_, err := producer.New(context.Background(), cfg, synthTracks())
	if !errors.Is(err, producer.ErrStreamNotFound) {
		t.Fatalf("New: %v, want ErrStreamNotFound", err)
	}
	if !strings.Contains(err.Error(), "absent") || !strings.Contains(err.Error(), "describe") {
		t.Errorf("error %q should name the stream and the step", err)
	}
}

func TestCredentialsFromEnvironment(t *testing.T) {
	ep := startEndpoint(t, server.Limits{})
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", testCreds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testCreds.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", testRegion)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg := ep.producerConfig(t, "envcreds")
	cfg.Credentials = nil
	cfg.Region = ""
	p, err := producer.New(context.Background(), cfg, synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	if err := upload(t, p, synthFrames(45, 30, 15, 500)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if st := p.Stats(); st.Persisted != st.Fragments || st.Fragments == 0 {
		t.Errorf("stats %+v", st)
	}

	// Wrong keys in the environment: the endpoint refuses them.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong"+testCreds.SecretAccessKey[5:])
	if _, err := producer.New(context.Background(), cfg, synthTracks()); err == nil {
		t.Fatal("New succeeded with a wrong secret key")
	}
}

func TestWriteFrameValidation(t *testing.T) {
	ep := startEndpoint(t, server.Limits{})
	p, err := producer.New(context.Background(), ep.producerConfig(t, "validation"), synthTracks())
	if err != nil {
		t.Fatal(err)
	}
	err = p.WriteFrame(context.Background(), media.Frame{Track: 9, Key: true, Data: []byte{1}})
	if !errors.Is(err, producer.ErrUnknownTrack) {
		t.Errorf("frame of track 9: %v, want ErrUnknownTrack", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteFrame(context.Background(), media.Frame{Track: 1, Key: true, Data: []byte{1}}); !errors.Is(err, producer.ErrClosed) {
		t.Errorf("WriteFrame after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(context.Background()); !errors.Is(err, producer.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}

func TestConfigValidation(t *testing.T) {
	ep := startEndpoint(t, server.Limits{})
	for name, mod := range map[string]func(*producer.Config){
		"bad name":       func(c *producer.Config) { c.StreamName = "a b" },
		"short uid":      func(c *producer.Config) { c.SegmentUID = []byte{1, 2} },
		"negative bytes": func(c *producer.Config) { c.BufferBytes = -1 },
	} {
		cfg := ep.producerConfig(t, "cfg")
		mod(&cfg)
		if _, err := producer.New(context.Background(), cfg, synthTracks()); !errors.Is(err, producer.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
	cfg := ep.producerConfig(t, "cfg")
	if _, err := producer.New(context.Background(), cfg, nil); !errors.Is(err, producer.ErrInvalidConfig) {
		t.Errorf("no tracks: %v, want ErrInvalidConfig", err)
	}
}
