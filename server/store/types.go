package store

import (
	"errors"
	"time"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrNotFound: the stream, channel, header or fragment does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists: a stream or channel of that name already exists.
	ErrExists = errors.New("store: already exists")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
)

// Stream is a video stream's control-plane record.
type Stream struct {
	Name                 string
	ARN                  string
	DeviceName           string
	MediaType            string
	KmsKeyID             string
	Version              string
	Status               string
	CreationTime         time.Time
	DataRetentionInHours int
	Tags                 map[string]string
	// StorageTier is the DefaultStorageTier, HOT or WARM; empty (records
	// written before it existed) means HOT.
	StorageTier string `json:",omitempty"`
	// The configurations below are nil until set.
	ImageGeneration *ImageGenerationConfig `json:",omitempty"`
	Notification    *NotificationConfig    `json:",omitempty"`
	Edge            *EdgeState             `json:",omitempty"`
}

// Channel is a signaling channel's control-plane record.
type Channel struct {
	Name              string
	ARN               string
	Type              string // SINGLE_MASTER or FULL_MESH
	Status            string
	Version           string
	CreationTime      time.Time
	MessageTTLSeconds int
	Tags              map[string]string
	// MediaStorage is nil until set; nil means storage DISABLED.
	MediaStorage *MediaStorageConfig `json:",omitempty"`
}

// Fragment is the index record of one stored fragment.
type Fragment struct {
	// Number is a fixed-width decimal string assigned by the store; numbers
	// increase with every fragment appended to a stream.
	Number            string
	ProducerTimestamp time.Time
	ServerTimestamp   time.Time
	Duration          time.Duration
	// Size is the length of the fragment's stored bytes.
	Size int64
	// HeaderID names the stream header (Info + Tracks) the fragment's frames need.
	HeaderID string
	// Timecode is the cluster timecode as written by the producer, in its
	// timecode-scale units.
	Timecode int64
}

// TimestampKind selects which timestamp a range query filters on.
type TimestampKind int

const (
	ProducerTimestamp TimestampKind = iota
	ServerTimestamp
)
