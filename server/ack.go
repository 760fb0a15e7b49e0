package server

import (
	"encoding/json"
	"fmt"
)

// ACK event types of a PutMedia response.
const (
	ackBuffering = "BUFFERING"
	ackReceived  = "RECEIVED"
	ackPersisted = "PERSISTED"
	ackError     = "ERROR"
	ackIdle      = "IDLE"
)

// ackErr is a PutMedia ERROR event's numeric id and name.
type ackErr struct {
	ID   int
	Code string
}

// The ERROR ids of the service that this endpoint reports.
var (
	errMaxFragmentSize     = ackErr{4001, "MAX_FRAGMENT_SIZE_REACHED"}
	errMaxFragmentDuration = ackErr{4002, "MAX_FRAGMENT_DURATION_REACHED"}
	errMaxConnectionTime   = ackErr{4003, "MAX_CONNECTION_DURATION_REACHED"}
	errTimecodeLesser      = ackErr{4004, "FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS"}
	errInvalidMKV          = ackErr{4006, "INVALID_MKV_DATA"}
	errInvalidProducerTime = ackErr{4007, "INVALID_PRODUCER_TIMESTAMP"}
	errStreamNotActive     = ackErr{4008, "STREAM_NOT_ACTIVE"}
	errMetadataLimit       = ackErr{4009, "FRAGMENT_METADATA_LIMIT_REACHED"}
	errTrackNumberMismatch = ackErr{4010, "TRACK_NUMBER_MISMATCH"}
	errFramesMissing       = ackErr{4011, "FRAMES_MISSING_FOR_TRACK"}
	errTooManyTracks       = ackErr{4012, "MORE_THAN_ALLOWED_TRACKS_FOUND"}
	errInternalError       = ackErr{5000, "INTERNAL_ERROR"}
	errArchival            = ackErr{5001, "ARCHIVAL_ERROR"}
)

// ack is one event line of a PutMedia response.
type ack struct {
	EventType        string `json:"EventType"`
	FragmentTimecode *int64 `json:"FragmentTimecode,omitempty"`
	FragmentNumber   string `json:"FragmentNumber,omitempty"`
	ErrorID          int    `json:"ErrorId,omitempty"`
	ErrorCode        string `json:"ErrorCode,omitempty"`
	Message          string `json:"Message,omitempty"`
}

func fragmentAck(event string, timecode int64, number string) ack {
	tc := timecode
	return ack{EventType: event, FragmentTimecode: &tc, FragmentNumber: number}
}

func errorAck(e ackErr, timecode *int64, number, format string, args ...any) ack {
	return ack{
		EventType: ackError, FragmentTimecode: timecode, FragmentNumber: number,
		ErrorID: e.ID, ErrorCode: e.Code, Message: fmt.Sprintf(format, args...),
	}
}

func (a ack) line() []byte {
	b, _ := json.Marshal(a)
	return append(b, '\n')
}
