//! Query parameters as the API server and the authorizer read them.

use std::collections::HashMap;

/// Parsed query parameters.
#[derive(Debug, Default, Clone)]
pub struct Query(HashMap<String, String>);

impl Query {
    /// Parses a raw query string. A repeated parameter keeps its first value, as Go's
    /// `url.Values.Get` and Kubernetes' parameter decoding do.
    pub fn parse(raw: Option<&str>) -> Self {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned() {
            map.entry(k).or_insert(v);
        }
        Self(map)
    }

    /// One parameter.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    /// A boolean parameter, read as Kubernetes reads them (`Convert_Slice_string_To_bool`):
    /// absent, `0` or `false` (any case) is false; any other value, even empty, is true. The
    /// gateway's authorization reads `watch` with this same function, so the verb it authorizes
    /// is the one served.
    pub fn flag(&self, k: &str) -> bool {
        match self.get(k) {
            None => false,
            Some(v) => !(v == "0" || v.eq_ignore_ascii_case("false")),
        }
    }
}
