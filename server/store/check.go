package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Check verifies that the index and the fragment files agree: every
// fragment record decodes, has both time index entries and a file of the
// size its record implies; every file and directory belongs to an indexed fragment or
// stream; the ARN index and the records agree. It returns one line per
// problem, none when the store is consistent. Appends wait while it runs.
func (s *Store) Check() ([]string, error) {
	if err := s.enter(); err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	defer s.ops.Done()
	s.archiveMu.Lock()
	defer s.archiveMu.Unlock()
	s.settle() // index commits of appends that have returned

	problems := []string{}
	report := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	expected := make(map[uint64]map[string]int64) // stream id -> number -> file size
	seq := s.seq.Load()
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, rs := range []struct {
			what        string
			names, arns []byte
			archive     bool
		}{
			{"stream", bucketStreams, bucketStreamARNs, true},
			{"channel", bucketChannels, bucketChannelARNs, false},
		} {
			names, arns := tx.Bucket(rs.names), tx.Bucket(rs.arns)
			if err := names.ForEach(func(k, v []byte) error {
				var rec struct{ Name, ARN string }
				if err := json.Unmarshal(v, &rec); err != nil {
					report("%s %q: undecodable record: %v", rs.what, k, err)
					return nil
				}
				if rec.Name != string(k) {
					report("%s %q: record names %q", rs.what, k, rec.Name)
				}
				id, name, ok := parseARNValue(arns.Get([]byte(rec.ARN)))
				if !ok || name != string(k) {
					report("%s %q: ARN %q not indexed", rs.what, k, rec.ARN)
				} else if rs.archive && tx.Bucket(bucketArchive).Bucket(idKey(id)) == nil {
					report("%s %q: no archive", rs.what, k)
				}
				return nil
			}); err != nil {
				return err
			}
			if err := arns.ForEach(func(k, v []byte) error {
				_, name, ok := parseARNValue(v)
				if !ok || names.Get([]byte(name)) == nil {
					report("%s ARN %q names missing record %q", rs.what, k, name)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		referenced := make(map[uint64]bool)
		_ = tx.Bucket(bucketStreamARNs).ForEach(func(_, v []byte) error {
			if id, _, ok := parseARNValue(v); ok {
				referenced[id] = true
			}
			return nil
		})
		return tx.Bucket(bucketArchive).ForEachBucket(func(k []byte) error {
			if len(k) != 8 {
				report("archive bucket with bad key %x", k)
				return nil
			}
			id := binary.BigEndian.Uint64(k)
			if !referenced[id] {
				report("archive %s belongs to no stream", dirName(id))
			}
			ab := tx.Bucket(bucketArchive).Bucket(k)
			nb, sb, pb := ab.Bucket(bucketNumbers), ab.Bucket(bucketServer), ab.Bucket(bucketProducer)
			if nb == nil || sb == nil || pb == nil || ab.Bucket(bucketHeaders) == nil {
				report("archive %s lacks a bucket", dirName(id))
				return nil
			}
			files := make(map[string]int64)
			expected[id] = files
			count := 0
			if err := nb.ForEach(func(num, v []byte) error {
				count++
				f, _, err := decodeFragment(num, v)
				if err != nil {
					report("fragment %s/%s: %v", dirName(id), num, err)
					return nil
				}
				if !validNumber(f.Number) {
					report("fragment %s/%q: malformed number", dirName(id), f.Number)
				}
				if c, ok := parseCounter(f.Number); !ok || c > seq {
					report("fragment %s/%s: number beyond the counter %d", dirName(id), f.Number, seq)
				}
				if sb.Get(timeKey(f.ServerTimestamp, f.Number)) == nil {
					report("fragment %s/%s: missing from the server time index", dirName(id), f.Number)
				}
				if pb.Get(timeKey(f.ProducerTimestamp, f.Number)) == nil {
					report("fragment %s/%s: missing from the producer time index", dirName(id), f.Number)
				}
				files[f.Number] = dataOffset(&f, v) + f.Size
				return nil
			}); err != nil {
				return err
			}
			if n := sb.Stats().KeyN; n != count {
				report("archive %s: %d server index entries for %d fragments", dirName(id), n, count)
			}
			if n := pb.Stats().KeyN; n != count {
				report("archive %s: %d producer index entries for %d fragments", dirName(id), n, count)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}

	entries, err := os.ReadDir(s.fragDir)
	if err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	for _, e := range entries {
		id, ok := parseDirName(e.Name())
		files, known := expected[id]
		if !ok || !e.IsDir() || !known {
			report("unreferenced %s", filepath.Join("fragments", e.Name()))
			continue
		}
		names, err := os.ReadDir(filepath.Join(s.fragDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: check: %w", err)
		}
		for _, n := range names {
			rel := filepath.Join("fragments", e.Name(), n.Name())
			number, isFrag := strings.CutSuffix(n.Name(), ".frag")
			size, want := files[number]
			if !isFrag || !want {
				report("unreferenced %s", rel)
				continue
			}
			delete(files, number)
			info, err := n.Info()
			if err != nil {
				report("%s: %v", rel, err)
				continue
			}
			if !info.Mode().IsRegular() || info.Size() != size {
				report("%s: %d bytes, index says %d", rel, info.Size(), size)
			}
		}
	}
	for id, files := range expected {
		for _, number := range sortedKeys(files) {
			report("fragment %s/%s: file missing", dirName(id), number)
		}
	}
	return problems, nil
}
