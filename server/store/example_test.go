package store_test

import (
	"fmt"
	"log"
	"os"
	"time"

	"kvskit/server/store"
)

func Example() {
	dir, err := os.MkdirTemp("", "kvs-store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := store.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	arn := "arn:aws:kinesisvideo:us-west-2:123456789012:stream/door/1700000000000"
	if err := s.CreateStream(store.Stream{Name: "door", ARN: arn, Status: "ACTIVE", DataRetentionInHours: 2}); err != nil {
		log.Fatal(err)
	}
	hid, err := s.PutHeader(arn, []byte("matroska info and tracks"))
	if err != nil {
		log.Fatal(err)
	}
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		ts := start.Add(time.Duration(i) * 2 * time.Second)
		f, err := s.AppendFragment(arn, store.Fragment{
			ProducerTimestamp: ts,
			ServerTimestamp:   ts,
			Duration:          2 * time.Second,
			HeaderID:          hid,
		}, []byte(fmt.Sprintf("cluster %d", i)))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("stored", len(f.Number), "digit number, size", f.Size)
	}

	frags, err := s.FragmentsInRange(arn, store.ProducerTimestamp, start.Add(time.Second), start.Add(time.Minute), "", 10)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range frags {
		data, err := s.ReadFragment(arn, f.Number)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %q\n", f.ProducerTimestamp.Format(time.TimeOnly), data)
	}
	// Output:
	// stored 47 digit number, size 9
	// stored 47 digit number, size 9
	// stored 47 digit number, size 9
	// 12:00:02: "cluster 1"
	// 12:00:04: "cluster 2"
}
