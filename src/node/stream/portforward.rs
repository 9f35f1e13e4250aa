//! Port-forward sessions: SPDY streams paired by `requestID`, each pair one TCP connection
//! to the pod.
