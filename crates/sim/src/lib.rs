//! openqoe-sim: Simulated viewer population that speaks the wire format over HTTP
