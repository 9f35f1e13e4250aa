//! Port-forward against the real kubectl, over SPDY and over the WebSocket tunnel.
