package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Bucket and key names of the index.
var (
	bucketStreams     = []byte("streams")      // name -> JSON Stream
	bucketStreamARNs  = []byte("stream_arns")  // ARN -> id(8) + name
	bucketChannels    = []byte("channels")     // name -> JSON Channel
	bucketChannelARNs = []byte("channel_arns") // ARN -> id(8) + name
	bucketArchive     = []byte("archive")      // id(8) -> per-stream bucket
	bucketMeta        = []byte("meta")

	// Inside a per-stream archive bucket.
	bucketNumbers  = []byte("n") // number -> fragment record
	bucketServer   = []byte("s") // timeKey(server timestamp, number) -> empty
	bucketProducer = []byte("p") // timeKey(producer timestamp, number) -> empty
	bucketHeaders  = []byte("h") // header id -> header bytes
	keyOrder       = []byte("o") // order state, see orderState

	keySeq     = []byte("seq") // last fragment counter committed
	keyVersion = []byte("version")
)

const formatVersion = 1

// Fragment numbers: a fixed prefix followed by the zero-padded counter.
const (
	numberPrefix = "91343852333"
	numberLen    = 47
	counterLen   = numberLen - len(numberPrefix)
)

func formatNumber(counter uint64) string {
	return fmt.Sprintf("%s%0*d", numberPrefix, counterLen, counter)
}

// validNumber reports whether s has the shape of a fragment number: 47
// decimal digits.
func validNumber(s string) bool {
	if len(s) != numberLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseCounter returns the counter of a number this store issued.
func parseCounter(s string) (uint64, bool) {
	if !validNumber(s) || s[:len(numberPrefix)] != numberPrefix {
		return 0, false
	}
	n, err := strconv.ParseUint(s[len(numberPrefix):], 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

func idKey(id uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return k[:]
}

func dirName(id uint64) string { return fmt.Sprintf("%016x", id) }

func parseDirName(s string) (uint64, bool) {
	if len(s) != 16 {
		return 0, false
	}
	id, err := strconv.ParseUint(s, 16, 64)
	return id, err == nil
}

// arnValue is the value of an ARN index entry: the record's id and name.
func arnValue(id uint64, name string) []byte {
	v := make([]byte, 8+len(name))
	binary.BigEndian.PutUint64(v, id)
	copy(v[8:], name)
	return v
}

func parseARNValue(v []byte) (uint64, string, bool) {
	if len(v) < 8 {
		return 0, "", false
	}
	return binary.BigEndian.Uint64(v), string(v[8:]), true
}

// Times are stored as seconds (sign bit flipped, so that byte order is time
// order) and nanoseconds.
const timeLen = 12

func putTime(b []byte, t time.Time) {
	binary.BigEndian.PutUint64(b, uint64(t.Unix())^(1<<63))
	binary.BigEndian.PutUint32(b[8:], uint32(t.Nanosecond()))
}

var zeroUnix = time.Time{}.Unix()

func getTime(b []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	nsec := int64(binary.BigEndian.Uint32(b[8:]))
	if sec == zeroUnix && nsec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, nsec).UTC()
}

// normTime drops the monotonic reading and the location, as a round trip
// through the index does.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// timeKey is a key of a timestamp index: the time followed by the number,
// so that equal times order by number.
func timeKey(t time.Time, number string) []byte {
	k := make([]byte, timeLen+len(number))
	putTime(k, t)
	copy(k[timeLen:], number)
	return k
}

// Fragment record layout:
//
//	[0]      version: 1 for a file that holds only the data, 2 for a file
//	         that starts with a header (see fragfile.go)
//	[1:13]   producer timestamp
//	[13:25]  server timestamp
//	[25:33]  duration (ns)
//	[33:41]  size
//	[41:49]  timecode
//	[49:53]  CRC-32C of the data
//	[53:55]  header id length
//	[55:]    header id
const recordFixed = 55

var errBadRecord = errors.New("malformed fragment record")

func encodeFragment(f Fragment, crc uint32) []byte {
	b := make([]byte, recordFixed+len(f.HeaderID))
	b[0] = 2
	putTime(b[1:], f.ProducerTimestamp)
	putTime(b[13:], f.ServerTimestamp)
	binary.BigEndian.PutUint64(b[25:], uint64(f.Duration))
	binary.BigEndian.PutUint64(b[33:], uint64(f.Size))
	binary.BigEndian.PutUint64(b[41:], uint64(f.Timecode))
	binary.BigEndian.PutUint32(b[49:], crc)
	binary.BigEndian.PutUint16(b[53:], uint16(len(f.HeaderID)))
	copy(b[recordFixed:], f.HeaderID)
	return b
}

func decodeFragment(number, b []byte) (Fragment, uint32, error) {
	if len(b) < recordFixed || (b[0] != 1 && b[0] != 2) {
		return Fragment{}, 0, errBadRecord
	}
	n := int(binary.BigEndian.Uint16(b[53:]))
	if len(b) != recordFixed+n {
		return Fragment{}, 0, errBadRecord
	}
	f := Fragment{
		Number:            string(number),
		ProducerTimestamp: getTime(b[1:]),
		ServerTimestamp:   getTime(b[13:]),
		Duration:          time.Duration(binary.BigEndian.Uint64(b[25:])),
		Size:              int64(binary.BigEndian.Uint64(b[33:])),
		Timecode:          int64(binary.BigEndian.Uint64(b[41:])),
		HeaderID:          string(b[recordFixed:]),
	}
	return f, binary.BigEndian.Uint32(b[49:]), nil
}

// dataOffset returns where a fragment's data starts in its file, given its
// decoded record f and the raw record b.
func dataOffset(f *Fragment, b []byte) int64 {
	if b[0] == 1 {
		return 0
	}
	return fileHeaderLen(len(f.HeaderID))
}

// orderState remembers, per stream, the timestamps of the newest fragment
// and whether each timestamp kind has ever gone backwards. While a kind is
// monotonic, its time index lists fragments in number order, which range
// queries use to seek instead of scanning.
type orderState struct {
	lastProducer, lastServer           time.Time
	producerUnordered, serverUnordered bool
}

func decodeOrder(b []byte) orderState {
	var o orderState
	if len(b) != 2*timeLen+1 {
		return o
	}
	o.lastProducer = getTime(b)
	o.lastServer = getTime(b[timeLen:])
	o.producerUnordered = b[2*timeLen]&1 != 0
	o.serverUnordered = b[2*timeLen]&2 != 0
	return o
}

func (o orderState) encode() []byte {
	b := make([]byte, 2*timeLen+1)
	putTime(b, o.lastProducer)
	putTime(b[timeLen:], o.lastServer)
	if o.producerUnordered {
		b[2*timeLen] |= 1
	}
	if o.serverUnordered {
		b[2*timeLen] |= 2
	}
	return b
}

func (o orderState) ordered(kind TimestampKind) bool {
	if kind == ServerTimestamp {
		return !o.serverUnordered
	}
	return !o.producerUnordered
}
