//! openqoe-dashboard: Dashboard v0: UI assets and routes
