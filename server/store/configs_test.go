package store

import (
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Records written before the configurations existed load unchanged, and the
// configurations added to them survive a restart.
func TestRecordsWithoutConfigurationsLoad(t *testing.T) {
	s, dir := openTest(t)
	arn := mustStream(t, s, "old-cam", 24)
	carn := testARN("channel", "old-chan")
	if err := s.CreateChannel(Channel{Name: "old-chan", ARN: carn, Type: "SINGLE_MASTER", Status: "ACTIVE", Version: "1"}); err != nil {
		t.Fatal(err)
	}
	// The records exactly as the previous version of the store wrote them.
	oldStream := `{"Name":"old-cam","ARN":"` + arn + `","DeviceName":"pi","MediaType":"video/h264",` +
		`"KmsKeyID":"alias/aws/kinesisvideo","Version":"v1","Status":"ACTIVE",` +
		`"CreationTime":"2024-05-06T07:08:09.123Z","DataRetentionInHours":24,"Tags":{"a":"b"}}`
	oldChannel := `{"Name":"old-chan","ARN":"` + carn + `","Type":"SINGLE_MASTER","Status":"ACTIVE",` +
		`"Version":"c1","CreationTime":"2024-05-06T07:08:09.123Z","MessageTTLSeconds":60,"Tags":null}`
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketStreams).Put([]byte("old-cam"), []byte(oldStream)); err != nil {
			return err
		}
		return tx.Bucket(bucketChannels).Put([]byte("old-chan"), []byte(oldChannel))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, dir)
	created := time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)
	wantStream := Stream{Name: "old-cam", ARN: arn, DeviceName: "pi", MediaType: "video/h264",
		KmsKeyID: "alias/aws/kinesisvideo", Version: "v1", Status: "ACTIVE", CreationTime: created,
		DataRetentionInHours: 24, Tags: map[string]string{"a": "b"}}
	st, err := s.Stream("old-cam")
	if err != nil || !reflect.DeepEqual(st, wantStream) {
		t.Fatalf("old stream record = %+v, %v; want %+v", st, err, wantStream)
	}
	c, err := s.ChannelByARN(carn)
	if err != nil || c.MediaStorage != nil || c.MessageTTLSeconds != 60 || c.Version != "c1" {
		t.Fatalf("old channel record = %+v, %v", c, err)
	}

	interval, width, secs := 3000, 640, 300
	del := true
	img := &ImageGenerationConfig{Status: "ENABLED", ImageSelectorType: "SERVER_TIMESTAMP",
		DestinationConfig: &ImageDestination{URI: "s3://b/p", DestinationRegion: "us-east-1"},
		SamplingInterval:  &interval, Format: "JPEG", FormatConfig: map[string]string{"JPEGQuality": "80"}, WidthPixels: &width}
	edge := &EdgeState{Config: EdgeConfig{HubDeviceArn: "arn:aws:iot:us-east-1:1:thing/h",
		RecorderConfig: &RecorderConfig{MediaSourceConfig: &MediaSourceConfig{MediaURISecretARN: "arn:aws:secretsmanager:us-east-1:1:secret:s", MediaURIType: "RTSP_URI"},
			ScheduleConfig: &ScheduleConfig{ScheduleExpression: "0 0 * * * ?", DurationInSeconds: &secs}},
		DeletionConfig: &DeletionConfig{DeleteAfterUpload: &del}},
		CreationTime: created, LastUpdatedTime: created.Add(time.Hour), SyncStatus: "SYNC_FAILED", FailedStatusDetails: "no agent"}
	if _, err := s.UpdateStream("old-cam", func(st *Stream) error {
		st.StorageTier = "WARM"
		st.ImageGeneration = img
		st.Notification = &NotificationConfig{Status: "DISABLED", DestinationConfig: &NotificationDestination{URI: "arn:aws:sns:us-east-1:1:t"}}
		st.Edge = edge
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateChannel("old-chan", func(c *Channel) error {
		c.MediaStorage = &MediaStorageConfig{StreamARN: arn, Status: "ENABLED"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, dir)
	st, err = s.StreamByARN(arn)
	if err != nil || st.StorageTier != "WARM" || !reflect.DeepEqual(st.ImageGeneration, img) ||
		st.Notification == nil || st.Notification.DestinationConfig.URI != "arn:aws:sns:us-east-1:1:t" || !reflect.DeepEqual(st.Edge, edge) {
		t.Fatalf("configured stream after restart = %+v, %v", st, err)
	}
	c, err = s.Channel("old-chan")
	if err != nil || c.MediaStorage == nil || *c.MediaStorage != (MediaStorageConfig{StreamARN: arn, Status: "ENABLED"}) {
		t.Fatalf("configured channel after restart = %+v, %v", c, err)
	}
	checkClean(t, s)
}
