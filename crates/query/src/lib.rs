//! openqoe-query: Query API v1: views, events, breakdowns, timeseries; Prometheus output
