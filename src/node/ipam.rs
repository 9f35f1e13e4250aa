//! Pod IP addresses: one loopback address per live pod.
//!
//! Linux routes all of 127.0.0.0/8 to the loopback interface, so every pod can listen on its
//! own 127.x.y.z address without any network setup. Addresses are handed out upward from a
//! base address, never 127.0.0.1 (the host's own services) and never an address whose last
//! octet is 0 or 255 (which look like network and broadcast addresses to people and tools).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// Hands out unique loopback addresses to live pods.
#[derive(Debug, Clone)]
pub struct IpAllocator {
    base: u32,
    in_use: BTreeSet<u32>,
}

const LOOPBACK_END: u32 = 0x7fff_fffe; // 127.255.255.254

impl IpAllocator {
    /// An allocator starting at `base` (e.g. 127.1.0.1); a base outside 127.0.0.0/8 or equal
    /// to 127.0.0.1 is moved to 127.1.0.1.
    pub fn new(base: Ipv4Addr) -> Self {
        let raw = u32::from(base);
        let base = if usable(raw) {
            raw
        } else {
            u32::from(Ipv4Addr::new(127, 1, 0, 1))
        };
        Self {
            base,
            in_use: BTreeSet::new(),
        }
    }

    /// Reserves `preferred` when it is a usable, free address at or above the base (a pod
    /// keeps its address across a restart of podgate), otherwise the lowest free address.
    /// `None` when the range is exhausted.
    pub fn allocate(&mut self, preferred: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        if let Some(ip) = preferred.map(u32::from)
            && ip >= self.base
            && usable(ip)
            && self.in_use.insert(ip)
        {
            return Some(Ipv4Addr::from(ip));
        }
        let mut candidate = self.base;
        while candidate <= LOOPBACK_END {
            if usable(candidate) && !self.in_use.contains(&candidate) {
                self.in_use.insert(candidate);
                return Some(Ipv4Addr::from(candidate));
            }
            candidate += 1;
        }
        None
    }

    /// Returns an address to the pool.
    pub fn release(&mut self, ip: Ipv4Addr) {
        self.in_use.remove(&u32::from(ip));
    }

    /// Whether `ip` is currently given to a pod.
    pub fn is_allocated(&self, ip: Ipv4Addr) -> bool {
        self.in_use.contains(&u32::from(ip))
    }
}

fn usable(raw: u32) -> bool {
    let ip = Ipv4Addr::from(raw);
    let [a, _, _, d] = ip.octets();
    a == 127 && ip != Ipv4Addr::LOCALHOST && d != 0 && d != 255
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().expect("test ip")
    }

    #[test]
    fn allocates_upward_skipping_unusable_addresses() {
        let mut a = IpAllocator::new(ip("127.1.0.253"));
        let got: Vec<String> = (0..4)
            .map(|_| a.allocate(None).expect("free").to_string())
            .collect();
        assert_eq!(
            got,
            ["127.1.0.253", "127.1.0.254", "127.1.1.1", "127.1.1.2"]
        );
    }

    #[test]
    fn never_localhost_and_bad_base_is_replaced() {
        let cases = [
            ("127.0.0.1", "127.1.0.1"),
            ("10.0.0.1", "127.1.0.1"),
            ("127.0.0.2", "127.0.0.2"),
        ];
        for (base, first) in cases {
            let mut a = IpAllocator::new(ip(base));
            assert_eq!(a.allocate(None), Some(ip(first)), "base {base}");
        }
    }

    #[test]
    fn preferred_address_is_kept_when_free_and_released_addresses_are_reused() {
        let mut a = IpAllocator::new(ip("127.1.0.1"));
        assert_eq!(a.allocate(Some(ip("127.1.0.7"))), Some(ip("127.1.0.7")));
        // Taken already: falls back to the lowest free address.
        assert_eq!(a.allocate(Some(ip("127.1.0.7"))), Some(ip("127.1.0.1")));
        // Below the base or localhost: ignored.
        assert_eq!(a.allocate(Some(ip("127.0.0.1"))), Some(ip("127.1.0.2")));
        assert!(a.is_allocated(ip("127.1.0.1")));
        a.release(ip("127.1.0.1"));
        assert!(!a.is_allocated(ip("127.1.0.1")));
        assert_eq!(a.allocate(None), Some(ip("127.1.0.1")));
    }

    #[test]
    fn exhausted_range_returns_none() {
        let mut a = IpAllocator::new(ip("127.255.255.253"));
        assert_eq!(a.allocate(None), Some(ip("127.255.255.253")));
        assert_eq!(a.allocate(None), Some(ip("127.255.255.254")));
        assert_eq!(a.allocate(None), None);
    }
}
