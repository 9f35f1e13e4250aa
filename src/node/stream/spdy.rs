//! The SPDY/3.1 transport: remote-command sessions and the stream multiplexing port-forward
//! uses.
