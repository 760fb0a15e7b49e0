package store

import "time"

// The configuration records below are kept inside Stream and Channel
// records. Their JSON member names are those of the Kinesis Video Streams
// API, so the endpoint decodes requests into them and encodes responses from
// them; optional members are pointers so that "absent" differs from zero.

// ImageGenerationConfig is a stream's ImageGenerationConfiguration.
type ImageGenerationConfig struct {
	Status            string            `json:"Status"`
	ImageSelectorType string            `json:"ImageSelectorType"`
	DestinationConfig *ImageDestination `json:"DestinationConfig"`
	SamplingInterval  *int              `json:"SamplingInterval"`
	Format            string            `json:"Format"`
	FormatConfig      map[string]string `json:"FormatConfig,omitempty"`
	WidthPixels       *int              `json:"WidthPixels,omitempty"`
	HeightPixels      *int              `json:"HeightPixels,omitempty"`
}

// ImageDestination is where generated images would be delivered.
type ImageDestination struct {
	URI               string `json:"Uri"`
	DestinationRegion string `json:"DestinationRegion"`
}

// NotificationConfig is a stream's NotificationConfiguration.
type NotificationConfig struct {
	Status            string                   `json:"Status"`
	DestinationConfig *NotificationDestination `json:"DestinationConfig"`
}

// NotificationDestination is where notifications would be delivered.
type NotificationDestination struct {
	URI string `json:"Uri"`
}

// MediaStorageConfig is a signaling channel's MediaStorageConfiguration: the
// stream its media is stored in.
type MediaStorageConfig struct {
	StreamARN string `json:"StreamARN,omitempty"`
	Status    string `json:"Status"`
}

// EdgeState is a stream's edge configuration with its synchronisation state.
type EdgeState struct {
	Config              EdgeConfig
	CreationTime        time.Time
	LastUpdatedTime     time.Time
	SyncStatus          string
	FailedStatusDetails string `json:",omitempty"`
}

// EdgeConfig is the EdgeConfig of StartEdgeConfigurationUpdate.
type EdgeConfig struct {
	HubDeviceArn   string          `json:"HubDeviceArn"`
	RecorderConfig *RecorderConfig `json:"RecorderConfig"`
	UploaderConfig *UploaderConfig `json:"UploaderConfig,omitempty"`
	DeletionConfig *DeletionConfig `json:"DeletionConfig,omitempty"`
}

// RecorderConfig says where an edge agent records from and when.
type RecorderConfig struct {
	MediaSourceConfig *MediaSourceConfig `json:"MediaSourceConfig"`
	ScheduleConfig    *ScheduleConfig    `json:"ScheduleConfig,omitempty"`
}

// MediaSourceConfig names the secret holding the camera's URI.
type MediaSourceConfig struct {
	MediaURISecretARN string `json:"MediaUriSecretArn"`
	MediaURIType      string `json:"MediaUriType"`
}

// ScheduleConfig is a Quartz cron expression and a duration.
type ScheduleConfig struct {
	ScheduleExpression string `json:"ScheduleExpression"`
	DurationInSeconds  *int   `json:"DurationInSeconds"`
}

// UploaderConfig says when an edge agent uploads.
type UploaderConfig struct {
	ScheduleConfig *ScheduleConfig `json:"ScheduleConfig"`
}

// DeletionConfig says when an edge agent deletes recorded media.
type DeletionConfig struct {
	EdgeRetentionInHours *int             `json:"EdgeRetentionInHours,omitempty"`
	LocalSizeConfig      *LocalSizeConfig `json:"LocalSizeConfig,omitempty"`
	DeleteAfterUpload    *bool            `json:"DeleteAfterUpload,omitempty"`
}

// LocalSizeConfig bounds the media an edge agent keeps.
type LocalSizeConfig struct {
	MaxLocalMediaSizeInMB *int   `json:"MaxLocalMediaSizeInMB,omitempty"`
	StrategyOnFullSize    string `json:"StrategyOnFullSize,omitempty"`
}
