//! openqoe-wal: Write-ahead log of accepted batches: segment files, CRC per record, group commit, replay
