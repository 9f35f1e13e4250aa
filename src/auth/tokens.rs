//! Static bearer tokens in kube-apiserver's `--token-auth-file` CSV format, held only as
//! SHA-256 digests and compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Who a request is from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// User uid.
    pub uid: String,
    /// Groups.
    pub groups: Vec<String>,
    /// Extra attributes (e.g. the pod a ServiceAccount token is bound to).
    pub extra: std::collections::BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A user with a name and groups.
    pub fn new(name: impl Into<String>, groups: Vec<String>) -> Self {
        Self {
            name: name.into(),
            groups,
            ..Self::default()
        }
    }

    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

struct Entry {
    digest: [u8; 32],
    user: UserInfo,
}

/// A set of static tokens.
#[derive(Default)]
pub struct TokenFile {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print digests or users' tokens: only how many there are.
        f.debug_struct("TokenFile")
            .field("tokens", &self.entries.len())
            .finish()
    }
}

/// Errors reading a token file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenFileError {
    /// A record has fewer than three columns.
    #[error("token file line {line}: needs at least 3 columns (token,user,uid), found {found}")]
    TooFewColumns {
        /// 1-based line number.
        line: usize,
        /// Columns found.
        found: usize,
    },
    /// A quoted field is malformed.
    #[error("token file line {line}: bad quoting")]
    BadQuote {
        /// 1-based line number.
        line: usize,
    },
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl TokenFile {
    /// Parses the CSV text: `token,user,uid[,"group1,group2"]`, extra columns ignored, blank
    /// lines skipped, empty tokens skipped, the last of duplicate tokens wins.
    pub fn parse(text: &str) -> Result<Self, TokenFileError> {
        let mut file = TokenFile::default();
        for (i, line) in text.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let fields = split_csv(line).ok_or(TokenFileError::BadQuote { line: i + 1 })?;
            if fields.len() < 3 {
                return Err(TokenFileError::TooFewColumns {
                    line: i + 1,
                    found: fields.len(),
                });
            }
            if fields[0].is_empty() {
                tracing::warn!(line = i + 1, "skipping empty token in token file");
                continue;
            }
            let groups = fields
                .get(3)
                .map(|g| g.split(',').map(String::from).collect())
                .unwrap_or_default();
            let user = UserInfo {
                name: fields[1].clone(),
                uid: fields[2].clone(),
                groups,
                extra: Default::default(),
            };
            file.insert(&fields[0], user);
        }
        Ok(file)
    }

    /// Adds (or replaces) a token.
    pub fn insert(&mut self, token: &str, user: UserInfo) {
        let d = digest(token);
        self.entries.retain(|e| !bool::from(e.digest.ct_eq(&d)));
        self.entries.push(Entry { digest: d, user });
    }

    /// The user a token belongs to. Every entry is compared, with no early exit.
    pub fn authenticate(&self, token: &str) -> Option<UserInfo> {
        if token.is_empty() {
            return None;
        }
        let d = digest(token);
        let mut found = None;
        for e in &self.entries {
            if bool::from(e.digest.ct_eq(&d)) {
                found = Some(e.user.clone());
            }
        }
        found
    }

    /// How many tokens are known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no tokens are known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Splits one CSV record the way Go's encoding/csv does (quotes around whole fields, `""` inside).
fn split_csv(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => break,
                    c => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Some(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return None,
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Some(fields);
                    }
                    Some(',') => {
                        fields.push(field);
                        break;
                    }
                    Some('"') => return None,
                    Some(c) => field.push(c),
                }
            }
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header value, as kube-apiserver reads it.
pub fn bearer_token(header: &str) -> Option<&str> {
    let mut parts = header.trim().split(' ').filter(|p| !p.is_empty());
    let scheme = parts.next()?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = parts.next()?;
    if parts.next().is_some() {
        None
    } else {
        Some(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_kube_apiserver() {
        let f = TokenFile::parse(
            "token1,user1,uid1\n\ntoken5,user5,uid5,group5\ntoken6,user6,uid6,group5,otherdata\ntoken7,user7,uid7,\"group1,group2\",otherdata\n,empty,uid\n",
        )
        .unwrap();
        assert_eq!(f.len(), 4);
        assert_eq!(
            f.authenticate("token1").unwrap().groups,
            Vec::<String>::new()
        );
        assert_eq!(f.authenticate("token6").unwrap().groups, ["group5"]);
        assert_eq!(
            f.authenticate("token7").unwrap().groups,
            ["group1", "group2"]
        );
        assert_eq!(f.authenticate("token7").unwrap().name, "user7");
        assert!(f.authenticate("token").is_none());
        assert!(f.authenticate("").is_none());
    }

    #[test]
    fn bad_files_fail_whole() {
        assert_eq!(
            TokenFile::parse("a,b,c\nd,e\n").unwrap_err(),
            TokenFileError::TooFewColumns { line: 2, found: 2 }
        );
        assert_eq!(
            TokenFile::parse("a,b\"x,c\n").unwrap_err(),
            TokenFileError::BadQuote { line: 1 }
        );
    }

    #[test]
    fn duplicate_token_last_wins() {
        let f = TokenFile::parse("t,first,1\nt,second,2\n").unwrap();
        assert_eq!(f.authenticate("t").unwrap().name, "second");
    }

    #[test]
    fn bearer_header_forms() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer a b"), None);
    }
}
