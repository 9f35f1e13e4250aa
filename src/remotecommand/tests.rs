use super::*;

#[test]
fn websocket_negotiation_takes_the_first_offered_protocol_served() {
    assert_eq!(
        negotiate(["v5.channel.k8s.io"], &WEBSOCKET_PROTOCOLS),
        Some(V5)
    );
    assert_eq!(
        negotiate(
            ["channel.k8s.io, v4.channel.k8s.io", "v5.channel.k8s.io"],
            &WEBSOCKET_PROTOCOLS
        ),
        Some(V4)
    );
    assert_eq!(
        negotiate(["base64.channel.k8s.io"], &WEBSOCKET_PROTOCOLS),
        None
    );
    assert_eq!(negotiate([], &WEBSOCKET_PROTOCOLS), None);
    assert_eq!(
        negotiate([PORT_FORWARD_TUNNEL], &[PORT_FORWARD_TUNNEL]),
        Some(PORT_FORWARD_TUNNEL)
    );
}

#[test]
fn exec_queries_parse_as_kubectl_sends_them() {
    let o = CommandOptions::parse(
        "command=sh&command=-c&command=echo+hi%2Fthere&container=c&stdin=true&stdout=true&tty=true",
        true,
    )
    .expect("parses");
    assert_eq!(o.command, ["sh", "-c", "echo hi/there"]);
    assert_eq!(o.container.as_deref(), Some("c"));
    assert_eq!(
        o.streams,
        Streams {
            stdin: true,
            stdout: true,
            stderr: false,
            tty: true
        }
    );
    assert_eq!(o.streams.spdy_stream_count(), 4);
    let back = CommandOptions::parse(&o.to_query(), true).expect("round trip");
    assert_eq!(back, o);
}

#[test]
fn exec_queries_are_refused_with_kubernetes_texts() {
    assert_eq!(
        CommandOptions::parse("stdout=true", true),
        Err("you must specify at least 1 command".into())
    );
    assert_eq!(
        CommandOptions::parse("command=ls", true),
        Err("you must specify at least 1 of stdin, stdout, stderr".into())
    );
    assert!(CommandOptions::parse("command=ls&stdout=maybe", true).is_err());
    // attach needs no command
    assert!(CommandOptions::parse("stdout=true&container=a", false).is_ok());
}

#[test]
fn sizes_decode_across_and_within_frames() {
    let mut d = SizeDecoder::default();
    assert_eq!(d.feed(br#"{"Width":80,"#).expect("partial"), []);
    assert_eq!(
        d.feed(b"\"Height\":24}\n{\"Width\":81,\"Height\":25}\n")
            .expect("two"),
        [
            TerminalSize {
                width: 80,
                height: 24
            },
            TerminalSize {
                width: 81,
                height: 25
            }
        ]
    );
    assert!(d.feed(b"[1,2]").is_err());
    let mut d = SizeDecoder::default();
    assert!(d.feed(&vec![b' '; 10]).expect("blank").is_empty());
    assert!(
        d.feed(format!("{{\"Width\":{}", " ".repeat(5000)).as_bytes())
            .is_err()
    );
}

#[test]
fn exit_codes_become_the_status_kubectl_decodes() {
    assert_eq!(
        serde_json::to_string(&exit_status(0)).expect("json"),
        r#"{"metadata":{},"status":"Success"}"#
    );
    let s = exit_status(3);
    assert_eq!(s["reason"], "NonZeroExitCode");
    assert_eq!(s["details"]["causes"][0]["reason"], "ExitCode");
    assert_eq!(s["details"]["causes"][0]["message"], "3");
    assert_eq!(exit_status(300)["details"]["causes"][0]["message"], "255");
    assert_eq!(internal_error("boom")["code"], 500);
}

#[test]
fn channels_and_stream_types_match() {
    for c in [
        Channel::Stdin,
        Channel::Stdout,
        Channel::Stderr,
        Channel::Error,
        Channel::Resize,
    ] {
        assert_eq!(Channel::from_byte(c as u8), Some(c));
        assert_eq!(Channel::from_stream_type(c.stream_type()), Some(c));
    }
    assert_eq!(Channel::from_stream_type("STDIN"), Some(Channel::Stdin));
    assert_eq!(Channel::from_byte(CLOSE), None);
    assert_eq!(frame(Channel::Stdout, b"hi"), [1, b'h', b'i']);
}
