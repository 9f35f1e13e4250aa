//! SPDY/3.1 framing: the subset kubectl's SPDY client (moby/spdystream) uses.
