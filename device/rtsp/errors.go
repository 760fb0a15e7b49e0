package rtsp

import "errors"

var (
	// ErrClosed is wrapped by ReadFrame after Close.
	ErrClosed = errors.New("rtsp: source closed")

	// ErrInvalidOption is wrapped by Open for an option value out of range.
	ErrInvalidOption = errors.New("rtsp: invalid option")

	// ErrInvalidURL is wrapped by Open for a URL that is not rtsp://host[:port]/path.
	ErrInvalidURL = errors.New("rtsp: invalid URL")

	// ErrUnauthorized is wrapped when the server refuses the credentials of the
	// URL (or asks for some when the URL has none).
	ErrUnauthorized = errors.New("rtsp: unauthorized")

	// ErrStatus is wrapped when the server answers a request with an error
	// status; the message carries the method, URL, code and reason.
	ErrStatus = errors.New("rtsp: error status")

	// ErrMalformed is wrapped when the server sends something that is not
	// RTSP, SDP, RTP or RTCP as the specifications define them.
	ErrMalformed = errors.New("rtsp: malformed message")

	// ErrNoTracks is wrapped by Open when the session description offers no
	// track of a supported codec (H.264, H.265 video; AAC, G.711 audio).
	ErrNoTracks = errors.New("rtsp: no supported track")

	// ErrTransport is wrapped when the server refuses or garbles the RTP
	// transport the client asks for.
	ErrTransport = errors.New("rtsp: transport not accepted")

	// ErrNoParameterSets is wrapped by Open when the video parameter sets are
	// neither in the session description nor in the stream within the timeout.
	ErrNoParameterSets = errors.New("rtsp: no parameter sets")

	// ErrNoPackets is wrapped when no RTP packet arrives within the packet
	// timeout; the source then reconnects.
	ErrNoPackets = errors.New("rtsp: no packets")

	// ErrSessionEnded is wrapped when the server ends the session (a TEARDOWN
	// or REDIRECT request, an RTCP BYE, or the connection closing).
	ErrSessionEnded = errors.New("rtsp: session ended by the server")

	// ErrTracksChanged is returned by ReadFrame, after the frames already
	// queued, when the camera comes back after a reconnect with tracks of
	// other codecs than the ones Tracks reported. The source stops.
	ErrTracksChanged = errors.New("rtsp: tracks changed after reconnect")
)
