//! openqoe-metrics: Per-view metrics (DESIGN §3) as pure functions of a view's events, and the metric catalogue
