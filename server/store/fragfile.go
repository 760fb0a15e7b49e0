package store

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"
)

// Every fragment file starts with a header that describes the fragment, so
// that a file whose index record was not yet committed when the process
// died can be indexed again by Open. Layout (integers big-endian):
//
//	[0:4]    magic "KVSF"
//	[4]      layout version (1)
//	[5:13]   stream id
//	[13:21]  fragment counter (the number without its fixed prefix)
//	[21:33]  producer timestamp (as in the index)
//	[33:45]  server timestamp
//	[45:53]  duration (ns)
//	[53:61]  timecode
//	[61:69]  data length
//	[69:73]  CRC-32C of the data
//	[73:75]  header id length n
//	[75:75+n]     header id
//	[75+n:79+n]   CRC-32C of bytes [0:75+n]
//
// The data follows the header. A file is valid only if both CRCs match and
// the data has exactly the recorded length, so a file cut off by a crash is
// recognised as such.
const (
	fileMagic      = "KVSF"
	fileVersion    = 1
	fileHeaderBase = 79 // header length without the header id
	fileHIDOffset  = 75
)

var (
	errBadFileHeader = errors.New("malformed fragment file header")
	errTornFile      = errors.New("fragment file incomplete or damaged")
)

// fileHeader is what a fragment file says about itself.
type fileHeader struct {
	streamID uint64
	counter  uint64
	frag     Fragment // Number is not set; Size is the data length
	crc      uint32   // of the data
}

// fileHeaderLen is the length of the header of a file whose fragment has a
// header id of n bytes.
func fileHeaderLen(n int) int64 { return int64(fileHeaderBase + n) }

// appendFileHeader appends the header of a fragment file to b.
func appendFileHeader(b []byte, h *fileHeader) []byte {
	start := len(b)
	b = append(b, fileMagic...)
	b = append(b, fileVersion)
	b = binary.BigEndian.AppendUint64(b, h.streamID)
	b = binary.BigEndian.AppendUint64(b, h.counter)
	var ts [2 * timeLen]byte
	putTime(ts[:], h.frag.ProducerTimestamp)
	putTime(ts[timeLen:], h.frag.ServerTimestamp)
	b = append(b, ts[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(h.frag.Duration))
	b = binary.BigEndian.AppendUint64(b, uint64(h.frag.Timecode))
	b = binary.BigEndian.AppendUint64(b, uint64(h.frag.Size))
	b = binary.BigEndian.AppendUint32(b, h.crc)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.frag.HeaderID)))
	b = append(b, h.frag.HeaderID...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// parseFileHeader decodes the header at the start of b and returns it with
// its length. It checks the header's own CRC, not the data.
func parseFileHeader(b []byte) (fileHeader, int, error) {
	if len(b) < fileHeaderBase || string(b[:4]) != fileMagic || b[4] != fileVersion {
		return fileHeader{}, 0, errBadFileHeader
	}
	n := int(binary.BigEndian.Uint16(b[73:]))
	end := fileHIDOffset + n
	if len(b) < end+4 {
		return fileHeader{}, 0, errBadFileHeader
	}
	if crc32.Checksum(b[:end], castagnoli) != binary.BigEndian.Uint32(b[end:]) {
		return fileHeader{}, 0, errBadFileHeader
	}
	size := binary.BigEndian.Uint64(b[61:])
	if size > 1<<62 {
		return fileHeader{}, 0, errBadFileHeader
	}
	h := fileHeader{
		streamID: binary.BigEndian.Uint64(b[5:]),
		counter:  binary.BigEndian.Uint64(b[13:]),
		frag: Fragment{
			ProducerTimestamp: getTime(b[21:]),
			ServerTimestamp:   getTime(b[33:]),
			Duration:          time.Duration(binary.BigEndian.Uint64(b[45:])),
			Timecode:          int64(binary.BigEndian.Uint64(b[53:])),
			Size:              int64(size),
			HeaderID:          string(b[fileHIDOffset:end]),
		},
		crc: binary.BigEndian.Uint32(b[69:]),
	}
	return h, end + 4, nil
}

// parseFragmentFile checks a whole fragment file (header and data) and
// returns its header and data.
func parseFragmentFile(b []byte) (fileHeader, []byte, error) {
	h, n, err := parseFileHeader(b)
	if err != nil {
		return fileHeader{}, nil, err
	}
	data := b[n:]
	if int64(len(data)) != h.frag.Size || crc32.Checksum(data, castagnoli) != h.crc {
		return fileHeader{}, nil, errTornFile
	}
	return h, data, nil
}
