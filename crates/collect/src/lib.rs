//! openqoe-collect: HTTP ingest: POST /v1/events, body decoding, keys, de-duplication, durable acks
