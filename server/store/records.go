package store

import (
	"encoding/json"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// recordSet describes one kind of control-plane record (streams or
// channels): records keyed by name, plus an ARN index whose entries carry
// the record's internal id and name.
type recordSet[T any] struct {
	what    string
	names   []byte
	arns    []byte
	archive bool // records own a fragment archive
	key     func(*T) (name, arn string)
}

var streamSet = recordSet[Stream]{
	what:    "stream",
	names:   bucketStreams,
	arns:    bucketStreamARNs,
	archive: true,
	key:     func(s *Stream) (string, string) { return s.Name, s.ARN },
}

var channelSet = recordSet[Channel]{
	what:  "channel",
	names: bucketChannels,
	arns:  bucketChannelARNs,
	key:   func(c *Channel) (string, string) { return c.Name, c.ARN },
}

func (rs recordSet[T]) get(tx *bolt.Tx, name string) (T, error) {
	var rec T
	v := tx.Bucket(rs.names).Get([]byte(name))
	if v == nil {
		return rec, ErrNotFound
	}
	if err := json.Unmarshal(v, &rec); err != nil {
		return rec, fmt.Errorf("decode %s record: %w", rs.what, err)
	}
	return rec, nil
}

func (rs recordSet[T]) byARN(tx *bolt.Tx, arn string) (T, error) {
	_, name, ok := parseARNValue(tx.Bucket(rs.arns).Get([]byte(arn)))
	if !ok {
		var zero T
		return zero, ErrNotFound
	}
	return rs.get(tx, name)
}

func (rs recordSet[T]) put(tx *bolt.Tx, rec *T) error {
	name, _ := rs.key(rec)
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode %s record: %w", rs.what, err)
	}
	return tx.Bucket(rs.names).Put([]byte(name), v)
}

func (rs recordSet[T]) create(s *Store, rec T) error {
	name, arn := rs.key(&rec)
	if err := s.enter(); err != nil {
		return fmt.Errorf("store: create %s %s: %w", rs.what, name, err)
	}
	defer s.ops.Done()
	if name == "" || arn == "" {
		return fmt.Errorf("store: create %s %q: name and ARN are required: %w", rs.what, name, ErrInvalid)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(rs.names).Get([]byte(name)) != nil || tx.Bucket(rs.arns).Get([]byte(arn)) != nil {
			return ErrExists
		}
		id, err := tx.Bucket(bucketMeta).NextSequence()
		if err != nil {
			return err
		}
		if err := tx.Bucket(rs.arns).Put([]byte(arn), arnValue(id, name)); err != nil {
			return err
		}
		if rs.archive {
			if err := createArchive(tx, id); err != nil {
				return err
			}
		}
		return rs.put(tx, &rec)
	})
	if err != nil {
		return fmt.Errorf("store: create %s %s: %w", rs.what, name, err)
	}
	return nil
}

func (rs recordSet[T]) read(s *Store, name string) (T, error) {
	var rec T
	if err := s.enter(); err != nil {
		return rec, fmt.Errorf("store: %s %s: %w", rs.what, name, err)
	}
	defer s.ops.Done()
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = rs.get(tx, name)
		return err
	})
	if err != nil {
		return rec, fmt.Errorf("store: %s %s: %w", rs.what, name, err)
	}
	return rec, nil
}

func (rs recordSet[T]) readByARN(s *Store, arn string) (T, error) {
	var rec T
	if err := s.enter(); err != nil {
		return rec, fmt.Errorf("store: %s %s: %w", rs.what, arn, err)
	}
	defer s.ops.Done()
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = rs.byARN(tx, arn)
		return err
	})
	if err != nil {
		return rec, fmt.Errorf("store: %s %s: %w", rs.what, arn, err)
	}
	return rec, nil
}

func (rs recordSet[T]) update(s *Store, name string, fn func(*T) error) (T, error) {
	var rec T
	if err := s.enter(); err != nil {
		return rec, fmt.Errorf("store: update %s %s: %w", rs.what, name, err)
	}
	defer s.ops.Done()
	err := s.db.Update(func(tx *bolt.Tx) error {
		cur, err := rs.get(tx, name)
		if err != nil {
			return err
		}
		_, arn := rs.key(&cur)
		if err := fn(&cur); err != nil {
			return err
		}
		if n, a := rs.key(&cur); n != name || a != arn {
			return fmt.Errorf("name and ARN cannot change: %w", ErrInvalid)
		}
		if err := rs.put(tx, &cur); err != nil {
			return err
		}
		rec = cur
		return nil
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("store: update %s %s: %w", rs.what, name, err)
	}
	return rec, nil
}

func (rs recordSet[T]) remove(s *Store, name string) error {
	if err := s.enter(); err != nil {
		return fmt.Errorf("store: delete %s %s: %w", rs.what, name, err)
	}
	defer s.ops.Done()
	if rs.archive {
		// Held until the stream's files are gone, possibly by the
		// goroutine below.
		s.archiveMu.RLock()
	}
	var id uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		rec, err := rs.get(tx, name)
		if err != nil {
			return err
		}
		_, arn := rs.key(&rec)
		if v := tx.Bucket(rs.arns).Get([]byte(arn)); v != nil {
			id, _, _ = parseARNValue(v)
			if err := tx.Bucket(rs.arns).Delete([]byte(arn)); err != nil {
				return err
			}
		}
		if rs.archive {
			if err := deleteArchive(tx, id); err != nil {
				return err
			}
		}
		return tx.Bucket(rs.names).Delete([]byte(name))
	})
	if err != nil {
		if rs.archive {
			s.archiveMu.RUnlock()
		}
		return fmt.Errorf("store: delete %s %s: %w", rs.what, name, err)
	}
	if rs.archive {
		s.forgetStream(id)
		s.background.Add(1)
		go func() {
			defer s.background.Done()
			defer s.archiveMu.RUnlock()
			dir := s.streamDir(id)
			if err := os.RemoveAll(dir); err != nil {
				s.log.Error("store: removing a deleted stream's fragments", "path", dir, "err", err)
			}
		}()
	}
	return nil
}

func (rs recordSet[T]) list(s *Store) ([]T, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("store: list %ss: %w", rs.what, err)
	}
	defer s.ops.Done()
	out := []T{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(rs.names).ForEach(func(_, v []byte) error {
			var rec T
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode %s record: %w", rs.what, err)
			}
			out = append(out, rec)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list %ss: %w", rs.what, err)
	}
	return out, nil
}

// CreateStream stores a new stream record; its name and ARN must be set. It
// fails with ErrExists if a stream of that name or ARN exists.
func (s *Store) CreateStream(st Stream) error { return streamSet.create(s, st) }

// Stream returns the stream named name, or ErrNotFound.
func (s *Store) Stream(name string) (Stream, error) { return streamSet.read(s, name) }

// StreamByARN returns the stream with that ARN, or ErrNotFound.
func (s *Store) StreamByARN(arn string) (Stream, error) { return streamSet.readByARN(s, arn) }

// UpdateStream applies fn to the stream named name and stores the result,
// atomically with respect to every other update. An error from fn aborts the
// update and is returned wrapped. fn must not change Name or ARN.
func (s *Store) UpdateStream(name string, fn func(*Stream) error) (Stream, error) {
	return streamSet.update(s, name, fn)
}

// DeleteStream removes the stream named name with its headers and fragments.
// The fragment files are removed in the background; the index no longer
// lists them when DeleteStream returns.
func (s *Store) DeleteStream(name string) error { return streamSet.remove(s, name) }

// Streams returns every stream, sorted by name.
func (s *Store) Streams() ([]Stream, error) { return streamSet.list(s) }

// CreateChannel stores a new signaling channel record; its name and ARN must
// be set. It fails with ErrExists if a channel of that name or ARN exists.
func (s *Store) CreateChannel(c Channel) error { return channelSet.create(s, c) }

// Channel returns the channel named name, or ErrNotFound.
func (s *Store) Channel(name string) (Channel, error) { return channelSet.read(s, name) }

// ChannelByARN returns the channel with that ARN, or ErrNotFound.
func (s *Store) ChannelByARN(arn string) (Channel, error) { return channelSet.readByARN(s, arn) }

// UpdateChannel applies fn to the channel named name and stores the result
// atomically. An error from fn aborts the update and is returned wrapped. fn
// must not change Name or ARN.
func (s *Store) UpdateChannel(name string, fn func(*Channel) error) (Channel, error) {
	return channelSet.update(s, name, fn)
}

// DeleteChannel removes the channel named name.
func (s *Store) DeleteChannel(name string) error { return channelSet.remove(s, name) }

// Channels returns every channel, sorted by name.
func (s *Store) Channels() ([]Channel, error) { return channelSet.list(s) }
