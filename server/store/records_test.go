package store

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

func TestStreamCRUD(t *testing.T) {
	s, dir := openTest(t)
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	st := Stream{
		Name: "cam-1", ARN: "arn:aws:kinesisvideo:us-west-2:1:stream/cam-1/1", DeviceName: "pi",
		MediaType: "video/h264", Version: "v1", Status: "ACTIVE", CreationTime: created,
		DataRetentionInHours: 2, Tags: map[string]string{"a": "b"},
	}
	if err := s.CreateStream(st); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateStream(st); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	other := st
	other.Name = "cam-2"
	if err := s.CreateStream(other); !errors.Is(err, ErrExists) {
		t.Fatalf("create with a taken ARN: %v, want ErrExists", err)
	}
	if err := s.CreateStream(Stream{Name: "x"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("create without ARN: %v, want ErrInvalid", err)
	}
	got, err := s.Stream("cam-1")
	if err != nil || !reflect.DeepEqual(got, st) {
		t.Fatalf("Stream = %+v, %v; want %+v", got, err, st)
	}
	got, err = s.StreamByARN(st.ARN)
	if err != nil || !reflect.DeepEqual(got, st) {
		t.Fatalf("StreamByARN = %+v, %v", got, err)
	}
	if _, err := s.Stream("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing stream: %v", err)
	}
	if _, err := s.StreamByARN("arn:nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing ARN: %v", err)
	}

	up, err := s.UpdateStream("cam-1", func(st *Stream) error {
		st.DataRetentionInHours = 24
		st.Tags["c"] = "d"
		return nil
	})
	if err != nil || up.DataRetentionInHours != 24 || up.Tags["c"] != "d" {
		t.Fatalf("UpdateStream = %+v, %v", up, err)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateStream("cam-1", func(st *Stream) error {
		st.DataRetentionInHours = 99
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("UpdateStream with failing fn: %v", err)
	}
	if _, err := s.UpdateStream("cam-1", func(st *Stream) error {
		st.Name = "renamed"
		return nil
	}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("rename: %v", err)
	}
	if _, err := s.UpdateStream("nope", func(*Stream) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	got, _ = s.Stream("cam-1")
	if got.DataRetentionInHours != 24 {
		t.Fatalf("failed update leaked: %+v", got)
	}

	for _, n := range []string{"b", "a", "c-3", "Z"} {
		mustStream(t, s, n, 0)
	}
	all, err := s.Streams()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, st := range all {
		names = append(names, st.Name)
	}
	if want := []string{"Z", "a", "b", "c-3", "cam-1"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("Streams = %v, want %v", names, want)
	}

	// Survives reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stream("cam-1"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	s = reopen(t, dir)
	got, err = s.Stream("cam-1")
	if err != nil || got.DataRetentionInHours != 24 || !got.CreationTime.Equal(created) {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}

	if err := s.DeleteStream("cam-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteStream("cam-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.StreamByARN(st.ARN); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ARN after delete: %v", err)
	}
	checkClean(t, s)
}

func TestUpdateStreamAtomic(t *testing.T) {
	s, _ := openTest(t)
	mustStream(t, s, "counter", 0)
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if _, err := s.UpdateStream("counter", func(st *Stream) error {
					st.DataRetentionInHours++
					return nil
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st, err := s.Stream("counter")
	if err != nil {
		t.Fatal(err)
	}
	if st.DataRetentionInHours != workers*rounds {
		t.Fatalf("counter = %d, want %d (lost updates)", st.DataRetentionInHours, workers*rounds)
	}
}

func TestChannelCRUD(t *testing.T) {
	s, dir := openTest(t)
	c := Channel{Name: "door", ARN: "arn:aws:kinesisvideo:us-west-2:1:channel/door/1", Type: "SINGLE_MASTER",
		Status: "ACTIVE", Version: "1", CreationTime: time.Unix(1700000000, 0).UTC(), MessageTTLSeconds: 60,
		Tags: map[string]string{"k": "v"}}
	if err := s.CreateChannel(c); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateChannel(c); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	// A stream and a channel may share a name.
	mustStream(t, s, "door", 1)
	got, err := s.Channel("door")
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("Channel = %+v, %v", got, err)
	}
	if got, err = s.ChannelByARN(c.ARN); err != nil || got.Name != "door" {
		t.Fatalf("ChannelByARN = %+v, %v", got, err)
	}
	if _, err := s.Channel("x"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := s.ChannelByARN("x"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := s.UpdateChannel("door", func(c *Channel) error {
		c.MessageTTLSeconds = 120
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateChannel("door", func(c *Channel) error { return boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	for i := range 3 {
		name := fmt.Sprintf("ch-%d", 2-i)
		if err := s.CreateChannel(Channel{Name: name, ARN: testARN("channel", name)}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = reopen(t, dir)
	all, err := s.Channels()
	if err != nil || len(all) != 4 || all[0].Name != "ch-0" || all[3].Name != "door" || all[3].MessageTTLSeconds != 120 {
		t.Fatalf("Channels = %+v, %v", all, err)
	}
	if err := s.DeleteChannel("door"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteChannel("door"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := s.ChannelByARN(c.ARN); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := s.Stream("door"); err != nil {
		t.Fatal("deleting the channel touched the stream:", err)
	}
	checkClean(t, s)
}

func TestClosed(t *testing.T) {
	s, _ := openTest(t)
	arn := mustStream(t, s, "a", 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	checks := map[string]error{
		"CreateStream": s.CreateStream(Stream{Name: "b", ARN: "b"}),
		"DeleteStream": s.DeleteStream("a"),
	}
	_, checks["Streams"] = s.Streams()
	_, checks["Channel"] = s.Channel("a")
	_, checks["AppendFragment"] = s.AppendFragment(arn, Fragment{}, []byte("x"))
	_, checks["ReadFragment"] = s.ReadFragment(arn, formatNumber(1))
	_, checks["FragmentsAfter"] = s.FragmentsAfter(arn, "", 0)
	_, checks["PutHeader"] = s.PutHeader(arn, []byte("h"))
	_, checks["Expire"] = s.Expire(time.Now())
	_, checks["Check"] = s.Check()
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}
