package testenv

import "os"

// WriteSynced creates the file path (it must not exist) with data and makes
// it durable with fsync: the disk work a durable store cannot avoid, for
// benchmarks that compare against it.
func WriteSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
