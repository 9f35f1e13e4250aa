//! Kubernetes `$(VAR)` expansion for `env` values, `command` and `args`.
//!
//! The rules are those of Kubernetes' `third_party/forked/golang/expansion`: `$(NAME)` is
//! replaced by the variable's value when it is defined and left as written otherwise; `$$` is
//! an escaped `$`; any other `$` (including an unterminated `$(`) is kept literally.

/// Expands every `$(NAME)` in `input` with `lookup(NAME)`; an undefined name (lookup returns
/// `None`) stays `$(NAME)`, and `$$` becomes `$`.
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let bytes = input.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.extend_from_slice(&bytes[checkpoint..cursor]);
            let rest = &bytes[cursor + 1..];
            let advance = match rest[0] {
                b'$' => {
                    out.push(b'$');
                    1
                }
                b'(' => match rest.iter().position(|&b| b == b')') {
                    Some(close) => {
                        let name = String::from_utf8_lossy(&rest[1..close]);
                        match lookup(&name) {
                            Some(value) => out.extend_from_slice(value.as_bytes()),
                            None => {
                                out.extend_from_slice(b"$(");
                                out.extend_from_slice(name.as_bytes());
                                out.push(b')');
                            }
                        }
                        close + 1
                    }
                    None => {
                        out.extend_from_slice(b"$(");
                        1
                    }
                },
                other => {
                    out.push(b'$');
                    out.push(other);
                    1
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    out.extend_from_slice(&bytes[checkpoint.min(bytes.len())..]);
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "VAR_A" => Some("A".into()),
            "VAR_B" => Some("B".into()),
            "EMPTY" => Some(String::new()),
            "POD_IP" => Some("127.1.0.1".into()),
            _ => None,
        }
    }

    #[test]
    fn expansion_table() {
        // Cases from Kubernetes' expansion_test.go, plus a few of ours.
        let cases = [
            ("$(VAR_A)", "A"),
            ("___$(VAR_B)___", "___B___"),
            ("$(VAR_A)-$(VAR_B)", "A-B"),
            ("$(UNDEFINED)", "$(UNDEFINED)"),
            ("$$(VAR_A)", "$(VAR_A)"),
            ("$$$(VAR_A)", "$A"),
            ("$$$$(VAR_A)", "$$(VAR_A)"),
            ("$(EMPTY)", ""),
            ("$(VAR_A", "$(VAR_A"),
            ("$VAR_A", "$VAR_A"),
            ("$", "$"),
            ("foo$", "foo$"),
            ("$()", "$()"),
            ("--listen=$(POD_IP):8080", "--listen=127.1.0.1:8080"),
            ("héllo $(VAR_A) wörld", "héllo A wörld"),
            ("$é", "$é"),
            ("", ""),
            ("no vars", "no vars"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, vars), want, "input {input:?}");
        }
    }
}
