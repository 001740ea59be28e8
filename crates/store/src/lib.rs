//! openqoe-store: Embedded view store: ended views with their metrics
