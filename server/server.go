package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"kvskit/internal/awsauth"
	"kvskit/server/store"
)

// Limits are the per-stream service limits the endpoint enforces. The zero
// value of a field means the KVS default.
type Limits struct {
	// MaxBytesPerSecond throttles a PutMedia session's reads (KVS: 12.5 MB/s).
	MaxBytesPerSecond float64
	// MaxFragmentsPerSecond throttles fragments per stream (KVS: 5).
	MaxFragmentsPerSecond float64
	// MaxConnectionDuration ends a PutMedia session with ERROR 4003 (KVS: 45 min).
	MaxConnectionDuration time.Duration
	// IdleTimeout ends a PutMedia request that sends nothing (KVS: about 30 s).
	IdleTimeout time.Duration
	// IdleAckInterval is the period of IDLE events while no data arrives.
	IdleAckInterval time.Duration
	// MaxFragmentSize refuses larger fragments with ERROR 4001 (KVS: 50 MB).
	MaxFragmentSize int64
	// MaxFragmentDuration refuses longer fragments with ERROR 4002 (KVS: 20 s).
	MaxFragmentDuration time.Duration
	// GetMediaIdleTimeout ends a GetMedia response after this long without a
	// new fragment.
	GetMediaIdleTimeout time.Duration
	// ExpireInterval is how often fragments past their retention are removed.
	ExpireInterval time.Duration
	// SessionMemory bounds the fragment bytes in flight of one PutMedia
	// connection (default: twice MaxFragmentSize and 4 MiB).
	SessionMemory int64
	// MemoryBudget bounds the fragment bytes in flight of all PutMedia
	// connections together.
	MemoryBudget int64
}

// DefaultLimits returns the limits of the real service.
func DefaultLimits() Limits {
	return Limits{
		MaxBytesPerSecond:     12.5e6,
		MaxFragmentsPerSecond: 5,
		MaxConnectionDuration: 45 * time.Minute,
		IdleTimeout:           30 * time.Second,
		IdleAckInterval:       3 * time.Second,
		MaxFragmentSize:       50 << 20,
		MaxFragmentDuration:   20 * time.Second,
		GetMediaIdleTimeout:   10 * time.Second,
		ExpireInterval:        time.Minute,
		SessionMemory:         2*(50<<20) + 4<<20,
		MemoryBudget:          512 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytesPerSecond == 0 {
		l.MaxBytesPerSecond = d.MaxBytesPerSecond
	}
	if l.MaxFragmentsPerSecond == 0 {
		l.MaxFragmentsPerSecond = d.MaxFragmentsPerSecond
	}
	if l.MaxConnectionDuration == 0 {
		l.MaxConnectionDuration = d.MaxConnectionDuration
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.IdleAckInterval == 0 {
		l.IdleAckInterval = d.IdleAckInterval
	}
	if l.MaxFragmentSize == 0 {
		l.MaxFragmentSize = d.MaxFragmentSize
	}
	if l.MaxFragmentDuration == 0 {
		l.MaxFragmentDuration = d.MaxFragmentDuration
	}
	if l.GetMediaIdleTimeout == 0 {
		l.GetMediaIdleTimeout = d.GetMediaIdleTimeout
	}
	if l.ExpireInterval == 0 {
		l.ExpireInterval = d.ExpireInterval
	}
	if l.SessionMemory <= 0 {
		l.SessionMemory = 2*l.MaxFragmentSize + 4<<20
	}
	if l.MemoryBudget <= 0 {
		l.MemoryBudget = d.MemoryBudget
	}
	return l
}

// Config configures a Server.
type Config struct {
	// DataDir holds the archive (required).
	DataDir string
	// Region is the region clients must sign for (default us-east-1).
	Region string
	// AccountID appears in ARNs (default 000000000000).
	AccountID string
	// Credentials maps access key ids to secret keys. Empty means every
	// request is refused. Temporary credentials issued from one of these
	// keys with the data dir's SessionIssuer are accepted until they expire.
	Credentials map[string]string
	// PublicURL is returned by GetDataEndpoint; empty means the URL the
	// client used to reach the server (its Host header).
	PublicURL string
	Limits    Limits
	// Conns bounds connections (HTTPServer, LimitListener).
	Conns  ConnLimits
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NoSync skips fsync in the store; for unit tests only.
	NoSync bool
}

// Server is the local KVS endpoint. Create it with New, serve its Handler, and
// Close it to stop sessions and close the store.
type Server struct {
	cfg    Config
	log    *slog.Logger
	store  *store.Store
	auth   *awsauth.Verifier
	limits Limits
	conns  ConnLimits
	mux    *http.ServeMux
	hub    *hub
	bufs   fragBufs // buffers of stored fragments, for the next ones
	mem    *memBudget

	ctx    context.Context // canceled by Close: sessions wind down
	cancel context.CancelFunc
	wg     sync.WaitGroup // background work and sessions

	// mediaStorageMu serialises UpdateMediaStorageConfiguration, whose check
	// that a stream is mapped to no other channel spans several channel
	// records.
	mediaStorageMu sync.Mutex

	mu       sync.Mutex
	closed   bool
	sessions map[string][]*ingestSession // stream ARN -> PutMedia sessions, oldest first
}

// New opens the store under cfg.DataDir and returns a ready server.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: DataDir is required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := PrepareDataDir(cfg.DataDir, cfg.Logger); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	var opts []store.Option
	opts = append(opts, store.WithLogger(cfg.Logger))
	if cfg.NoSync {
		opts = append(opts, store.WithNoSync())
	}
	st, err := store.Open(cfg.DataDir, opts...)
	if err != nil {
		return nil, fmt.Errorf("server: open store: %w", err)
	}
	issuer, err := SessionIssuer(cfg.DataDir)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	creds := cfg.Credentials
	lookup := func(id string) (string, bool) {
		sec, ok := creds[id]
		return sec, ok
	}
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger,
		store: st,
		auth: &awsauth.Verifier{
			Region:  cfg.Region,
			Service: "kinesisvideo",
			Lookup:  lookup,
			LookupSession: func(id, token string) (string, error) {
				return issuer.Resolve(id, token, lookup, cfg.Now())
			},
			Now: cfg.Now,
		},
		limits:   cfg.Limits.withDefaults(),
		conns:    cfg.Conns.withDefaults(),
		hub:      newHub(),
		sessions: make(map[string][]*ingestSession),
	}
	s.mem = newMemBudget(s.limits.MemoryBudget)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.routes()
	// AWS STS GetSessionToken (form-encoded POST /) beside the KVS APIs.
	s.mux.Handle("POST /{$}", newSTSHandler(cfg, issuer, lookup))
	s.wg.Add(1)
	go s.expireLoop()
	return s, nil
}

// Handler returns the HTTP handler serving every API.
func (s *Server) Handler() http.Handler { return s.mux }

// Store gives tests and tools read access to the archive.
func (s *Server) Store() *store.Store { return s.store }

// Close ends PutMedia sessions (a fragment in flight is finished if its bytes
// arrive within the grace period, otherwise refused), ends GetMedia responses,
// stops background work and closes the store.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	if err := s.store.Close(); err != nil {
		return fmt.Errorf("server: close store: %w", err)
	}
	return nil
}

func (s *Server) expireLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.limits.ExpireInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			n, err := s.store.Expire(s.cfg.Now())
			if err != nil {
				s.log.Error("expire fragments", "err", err)
			} else if n > 0 {
				s.log.Info("expired fragments", "count", n)
			}
		}
	}
}

// route is an API operation: its handler gets the verified request and, for
// JSON operations, the body already read.
type route struct {
	json    bool // read and verify the body as a small JSON document
	handler func(w http.ResponseWriter, r *http.Request, body []byte) *apiError
}

const maxJSONBody = 1 << 20

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	ops := map[string]route{
		// Control plane.
		"/createStream":                {true, s.createStream},
		"/describeStream":              {true, s.describeStream},
		"/listStreams":                 {true, s.listStreams},
		"/deleteStream":                {true, s.deleteStream},
		"/updateStream":                {true, s.updateStream},
		"/updateDataRetention":         {true, s.updateDataRetention},
		"/tagStream":                   {true, s.tagStream},
		"/untagStream":                 {true, s.untagStream},
		"/listTagsForStream":           {true, s.listTagsForStream},
		"/getDataEndpoint":             {true, s.getDataEndpoint},
		"/createSignalingChannel":      {true, s.createChannel},
		"/describeSignalingChannel":    {true, s.describeChannel},
		"/listSignalingChannels":       {true, s.listChannels},
		"/deleteSignalingChannel":      {true, s.deleteChannel},
		"/updateSignalingChannel":      {true, s.updateChannel},
		"/getSignalingChannelEndpoint": {true, s.getChannelEndpoint},
		"/TagResource":                 {true, s.tagResource},
		"/UntagResource":               {true, s.untagResource},
		"/ListTagsForResource":         {true, s.listTagsForResource},
		// Configurations (configs.go).
		"/describeImageGenerationConfiguration": {true, s.describeImageGenerationConfiguration},
		"/updateImageGenerationConfiguration":   {true, s.updateImageGenerationConfiguration},
		"/describeNotificationConfiguration":    {true, s.describeNotificationConfiguration},
		"/updateNotificationConfiguration":      {true, s.updateNotificationConfiguration},
		"/describeStreamStorageConfiguration":   {true, s.describeStreamStorageConfiguration},
		"/updateStreamStorageConfiguration":     {true, s.updateStreamStorageConfiguration},
		"/describeMediaStorageConfiguration":    {true, s.describeMediaStorageConfiguration},
		"/updateMediaStorageConfiguration":      {true, s.updateMediaStorageConfiguration},
		"/describeMappedResourceConfiguration":  {true, s.describeMappedResourceConfiguration},
		"/startEdgeConfigurationUpdate":         {true, s.startEdgeConfigurationUpdate},
		"/describeEdgeConfiguration":            {true, s.describeEdgeConfiguration},
		"/deleteEdgeConfiguration":              {true, s.deleteEdgeConfiguration},
		"/listEdgeAgentConfigurations":          {true, s.listEdgeAgentConfigurations},
		// Data plane.
		"/putMedia":                {false, s.putMedia},
		"/getMedia":                {true, s.getMedia},
		"/listFragments":           {true, s.listFragments},
		"/getMediaForFragmentList": {true, s.getMediaForFragmentList},
	}
	for path, rt := range ops {
		s.mux.Handle("POST "+path, s.wrap(path, rt))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		closeUnread(w) // not authenticated: the connection ends here
		writeError(w, errorf(http.StatusNotFound, "UnknownOperationException",
			"no operation %s %s", r.Method, r.URL.Path))
	})
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) wrap(op string, rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-amzn-RequestId", newRequestID())
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			closeUnread(w)
			writeError(w, errorf(http.StatusServiceUnavailable, "ServiceUnavailableException", "the endpoint is shutting down"))
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		defer s.wg.Done()
		var body []byte
		var err error
		if rt.json {
			rc := http.NewResponseController(w)
			body, err = io.ReadAll(io.LimitReader(&progressReader{r: r.Body, rc: rc, timeout: s.conns.BodyTimeout}, maxJSONBody+1))
			if err != nil {
				// The connection closes after the answer; net/http drains
				// the body first, which must not wait for the client.
				_ = rc.SetReadDeadline(time.Now())
				closeUnread(w)
				writeError(w, errInvalidArgument("reading request body: %v", err))
				return
			}
			if len(body) > maxJSONBody {
				_ = rc.SetReadDeadline(time.Now())
				closeUnread(w)
				writeError(w, errInvalidArgument("request body larger than %d bytes", maxJSONBody))
				return
			}
			_ = rc.SetReadDeadline(time.Time{})
			_, err = s.auth.VerifyWithBody(r, body)
			if len(bytes.TrimSpace(body)) == 0 {
				body = []byte("{}")
			}
		} else {
			_, err = s.auth.Verify(r)
		}
		if err != nil {
			var ae *awsauth.Error
			code, msg := "InvalidSignatureException", err.Error()
			if errors.As(err, &ae) {
				code, msg = ae.Code, ae.Message
			}
			s.log.Warn("request refused", "op", op, "remote", r.RemoteAddr, "code", code, "reason", msg)
			// Not authenticated: the connection ends with this answer, so
			// that refused clients cannot hold connections open.
			closeUnread(w)
			writeError(w, errorf(http.StatusForbidden, code, "%s", msg))
			return
		}
		if e := rt.handler(w, r, body); e != nil {
			s.log.Debug("request failed", "op", op, "code", e.Code, "msg", e.Message)
			if !rt.json {
				closeUnread(w)
			}
			writeError(w, e)
		}
	})
}

// endConnection completes a response whose headers are sent and closes the
// connection, for a handler that stopped reading its request body before its
// end: the unread bytes belong to that body and must never be parsed as the
// next request. net/http reuses a full-duplex connection after the handler
// returns whenever its drain of the body ends early (an error, a deadline),
// so the connection is taken over here: the chunked response is terminated,
// the sending side shut, and what the client still sends is read and thrown
// away for a moment before the close, so that the close does not reset the
// connection before the client has read the response. Should the takeover
// fail, the handler is aborted, which closes the connection too.
func (s *Server) endConnection(w http.ResponseWriter, r *http.Request) {
	conn, bw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	// Hijack clears the deadlines: a client that reads nothing must not
	// hold this handler.
	_ = conn.SetWriteDeadline(time.Now().Add(endWriteTimeout))
	if r.ProtoAtLeast(1, 1) {
		// The last chunk of the response: the client sees it end whole.
		_, _ = bw.WriteString("0\r\n\r\n")
	}
	_ = bw.Flush()
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(lingerTime))
		_, _ = io.CopyN(io.Discard, conn, lingerBytes)
	}()
}

// lingerTime and lingerBytes bound what endConnection reads of an abandoned
// body before closing the connection; endWriteTimeout bounds its write of
// the response's end.
const (
	lingerTime      = 500 * time.Millisecond
	lingerBytes     = 1 << 20
	endWriteTimeout = 2 * time.Second
)

// closeUnread marks a response after which the connection closes: one to a
// streamed request whose body was not read (instead of waiting to drain the
// body, so the client sees the error at once), and one to a request that
// was not authenticated.
func closeUnread(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
}
