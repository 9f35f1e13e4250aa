//! Table and property tests of the SPDY/3.1 codec, and decodes of sessions kubectl wrote.

use super::*;
use proptest::prelude::*;

/// Decodes every frame in `bytes` with a fresh decoder.
fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, SpdyError> {
    let mut decoder = FrameDecoder::new();
    decoder.feed(bytes);
    let mut frames = Vec::new();
    while let Some(frame) = decoder.next_frame()? {
        frames.push(frame);
    }
    assert_eq!(decoder.buffered(), 0, "bytes left after the last frame");
    Ok(frames)
}

/// Encodes `frames` with one encoder, as a session does.
fn encode_all(frames: &[Frame]) -> Vec<u8> {
    let mut encoder = FrameEncoder::new();
    let mut out = Vec::new();
    for frame in frames {
        encoder.encode(frame, &mut out).expect("encodable");
    }
    out
}

#[test]
fn dictionary_is_spdy3s() {
    assert_eq!(dictionary().len(), 1423);
    // The dictionary id zlib puts in the stream header (the Adler-32 of the dictionary).
    let mut deflate = Compress::new(Compression::default(), true);
    assert_eq!(deflate.set_dictionary(dictionary()).unwrap(), 0xe3c6_a7c2);
}

#[test]
fn fixed_frames_have_their_wire_bytes() {
    let cases: Vec<(Frame, Vec<u8>)> = vec![
        (
            Frame::Ping { id: 1 },
            vec![0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1],
        ),
        (
            Frame::RstStream {
                stream_id: 5,
                status: rst::CANCEL,
            },
            vec![0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 5, 0, 0, 0, 5],
        ),
        (
            Frame::GoAway {
                last_good_stream_id: 7,
                status: goaway::OK,
            },
            vec![0x80, 3, 0, 7, 0, 0, 0, 8, 0, 0, 0, 7, 0, 0, 0, 0],
        ),
        (
            Frame::WindowUpdate {
                stream_id: 1,
                delta: 0x10000,
            },
            vec![0x80, 3, 0, 9, 0, 0, 0, 8, 0, 0, 0, 1, 0, 1, 0, 0],
        ),
        (
            Frame::Settings {
                clear: false,
                entries: vec![(0, 7, 0x10000)],
            },
            vec![
                0x80, 3, 0, 4, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 7, 0, 1, 0, 0,
            ],
        ),
        (
            Frame::Data {
                stream_id: 3,
                fin: true,
                data: Bytes::from_static(b"hi"),
            },
            vec![0, 0, 0, 3, 1, 0, 0, 2, b'h', b'i'],
        ),
        (
            Frame::Data {
                stream_id: 1,
                fin: true,
                data: Bytes::new(),
            },
            vec![0, 0, 0, 1, 1, 0, 0, 0],
        ),
    ];
    for (frame, bytes) in cases {
        assert_eq!(encode_all(std::slice::from_ref(&frame)), bytes, "{frame:?}");
        assert_eq!(decode_all(&bytes).unwrap(), vec![frame]);
    }
}

#[test]
fn header_blocks_share_one_zlib_stream_per_direction() {
    let frames = vec![
        Frame::SynStream {
            stream_id: 1,
            associated_to: 0,
            priority: 0,
            fin: false,
            unidirectional: false,
            headers: Headers::new().with("streamType", "error"),
        },
        Frame::SynStream {
            stream_id: 3,
            associated_to: 0,
            priority: 0,
            fin: false,
            unidirectional: false,
            headers: Headers::new().with("streamType", "stdout"),
        },
        Frame::SynReply {
            stream_id: 1,
            fin: false,
            headers: Headers::new(),
        },
    ];
    let bytes = encode_all(&frames);
    // Only the first block carries the zlib header (0x78, then FDICT set in the flags byte).
    let first_block = &bytes[8 + 10..];
    assert_eq!(first_block[0], 0x78);
    assert_ne!(first_block[1] & 0x20, 0, "FDICT flag");
    let decoded = decode_all(&bytes).unwrap();
    assert_eq!(decoded, frames);
    // A second decoder that did not see the first block cannot read the second.
    let second = {
        let len = 8 + u32::from_be_bytes([0, bytes[5], bytes[6], bytes[7]]) as usize;
        &bytes[len..]
    };
    assert!(decode_all(second).is_err());
}

#[test]
fn header_names_are_lower_case_and_read_case_insensitively() {
    let headers = Headers::new()
        .with("StreamType", "data")
        .with("X-Multi", "a\0b");
    assert_eq!(headers.pairs()[0].0, "streamtype");
    assert_eq!(headers.get("streamType"), Some("data"));
    assert_eq!(headers.get("x-multi"), Some("a"));
    assert_eq!(headers.get("port"), None);
}

#[test]
fn oversized_frames_are_refused_from_their_header() {
    // DATA of 1 MiB + 1: refused before any payload arrives.
    let head = data_frame_header(1, false, MAX_DATA_FRAME + 1).unwrap();
    let mut decoder = FrameDecoder::new();
    decoder.feed(&head);
    assert_eq!(
        decoder.next_frame(),
        Err(SpdyError::TooLarge {
            what: "DATA",
            len: MAX_DATA_FRAME + 1,
            max: MAX_DATA_FRAME
        })
    );
    // A control frame of 64 KiB + 1.
    let mut decoder = FrameDecoder::new();
    decoder.feed(&[0x80, 3, 0, 1, 0, 0x01, 0x00, 0x01]);
    assert!(matches!(
        decoder.next_frame(),
        Err(SpdyError::TooLarge {
            what: "SYN_STREAM",
            ..
        })
    ));
    // Another SPDY version.
    let mut decoder = FrameDecoder::new();
    decoder.feed(&[0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]);
    assert_eq!(decoder.next_frame(), Err(SpdyError::Version(2)));
    // What SPDY allows at most cannot be encoded larger.
    assert!(data_frame_header(1, false, 0x0100_0000).is_err());
}

#[test]
fn a_header_block_that_inflates_too_far_is_refused() {
    // 200 KiB of one value compresses to well under the control frame limit.
    let mut raw = Vec::new();
    raw.extend_from_slice(&1u32.to_be_bytes());
    raw.extend_from_slice(&1u32.to_be_bytes());
    raw.push(b'a');
    let value = vec![b'x'; 200 * 1024];
    raw.extend_from_slice(&(value.len() as u32).to_be_bytes());
    raw.extend_from_slice(&value);
    let mut deflate = Compress::new(Compression::best(), true);
    deflate.set_dictionary(dictionary()).unwrap();
    let mut block = Vec::with_capacity(raw.len());
    deflate
        .compress_vec(&raw, &mut block, FlushCompress::Sync)
        .unwrap();
    assert!(block.len() < MAX_CONTROL_FRAME);
    let mut payload = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    payload.extend_from_slice(&block);
    let mut frame = Vec::new();
    control(&mut frame, kind::SYN_STREAM, 0, &payload).unwrap();
    assert_eq!(decode_all(&frame), Err(SpdyError::HeaderBlockTooLarge));
    // The encoder refuses to write one.
    let big = Headers::new().with("a", &"x".repeat(MAX_HEADER_BLOCK));
    let mut out = Vec::new();
    assert_eq!(
        FrameEncoder::new().encode(
            &Frame::SynReply {
                stream_id: 1,
                fin: false,
                headers: big
            },
            &mut out
        ),
        Err(SpdyError::HeaderBlockTooLarge)
    );
}

#[test]
fn malformed_control_frames_are_errors() {
    let cases: Vec<Vec<u8>> = vec![
        // PING with 3 bytes.
        vec![0x80, 3, 0, 6, 0, 0, 0, 3, 0, 0, 1],
        // RST_STREAM with 4.
        vec![0x80, 3, 0, 3, 0, 0, 0, 4, 0, 0, 0, 1],
        // SETTINGS claiming 2 entries, holding 1.
        vec![
            0x80, 3, 0, 4, 0, 0, 0, 12, 0, 0, 0, 2, 0, 0, 0, 7, 0, 1, 0, 0,
        ],
        // SYN_STREAM too short for its fixed fields.
        vec![0x80, 3, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1],
        // SYN_REPLY whose block is not zlib.
        vec![0x80, 3, 0, 2, 0, 0, 0, 8, 0, 0, 0, 1, 1, 2, 3, 4],
    ];
    for bytes in cases {
        assert!(
            matches!(
                decode_all(&bytes),
                Err(SpdyError::Malformed(_) | SpdyError::Compression(_))
            ),
            "{bytes:?}"
        );
    }
}

#[test]
fn unknown_control_frames_are_skipped() {
    let mut bytes = vec![0x80, 3, 0, 10, 0, 0, 0, 2, 9, 9];
    bytes.extend(encode_all(&[Frame::Ping { id: 3 }]));
    assert_eq!(decode_all(&bytes).unwrap(), vec![Frame::Ping { id: 3 }]);
}

/// The streams kubectl v1.32 opened in a recorded session, in order: (stream id, header pairs).
fn syn_streams(frames: &[Frame]) -> Vec<(u32, Vec<(String, String)>)> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::SynStream {
                stream_id, headers, ..
            } => Some((*stream_id, headers.pairs().to_vec())),
            _ => None,
        })
        .collect()
}

/// A pair list from literals.
fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn kubectls_exec_session_decodes() {
    // `echo hello | kubectl exec -i p -- cat`, over SPDY: what kubectl wrote after the 101.
    let bytes = include_bytes!("../../../tests/fixtures/spdy/kubectl-exec.bin");
    let frames = decode_all(bytes).unwrap();
    let streams = syn_streams(&frames);
    let types: Vec<_> = streams
        .iter()
        .map(|(id, p)| {
            (
                *id,
                p.iter().find(|(n, _)| n == "streamtype").unwrap().1.clone(),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            (1, "error".to_string()),
            (3, "stdin".to_string()),
            (5, "stdout".to_string()),
            (7, "stderr".to_string())
        ]
    );
    // stdin carried the bytes, then FIN.
    let stdin: Vec<_> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Data {
                stream_id: 3,
                fin,
                data,
            } => Some((*fin, data.clone())),
            _ => None,
        })
        .collect();
    let text: Vec<u8> = stdin.iter().flat_map(|(_, d)| d.to_vec()).collect();
    assert_eq!(text, b"hello\n");
    assert!(stdin.last().unwrap().0, "stdin ends with FIN");
}

#[test]
fn kubectls_port_forward_session_decodes() {
    // One connection through `kubectl port-forward p :80`, over the WebSocket tunnel; the
    // fixture is the concatenated binary message payloads.
    let bytes = include_bytes!("../../../tests/fixtures/spdy/kubectl-port-forward.bin");
    let frames = decode_all(bytes).unwrap();
    let streams = syn_streams(&frames);
    assert_eq!(
        streams,
        [
            (
                1,
                pairs(&[("streamtype", "error"), ("port", "80"), ("requestid", "0")])
            ),
            (
                3,
                pairs(&[("streamtype", "data"), ("port", "80"), ("requestid", "0")])
            ),
        ]
    );
    // The error stream is half-closed at once; the data stream carries the request.
    assert!(frames.contains(&Frame::Data {
        stream_id: 1,
        fin: true,
        data: Bytes::new()
    }));
    let request: Vec<u8> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Data {
                stream_id: 3, data, ..
            } => Some(data.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(request.starts_with(b"ping"), "{request:?}");
}

/// Arbitrary header blocks: lower-case names (what the decoder yields), any UTF-8 values.
fn arb_headers() -> impl Strategy<Value = Headers> {
    prop::collection::vec(("[a-z][a-z0-9-]{0,15}", "[ -~\u{0}]{0,40}"), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .fold(Headers::new(), |h, (n, v)| h.with(&n, &v))
    })
}

/// Arbitrary frames of every kind.
fn arb_frame() -> impl Strategy<Value = Frame> {
    let id = 0u32..=STREAM_ID_MASK;
    prop_oneof![
        (
            id.clone(),
            id.clone(),
            0u8..8,
            any::<bool>(),
            any::<bool>(),
            arb_headers()
        )
            .prop_map(
                |(stream_id, associated_to, priority, fin, unidirectional, headers)| {
                    Frame::SynStream {
                        stream_id,
                        associated_to,
                        priority,
                        fin,
                        unidirectional,
                        headers,
                    }
                }
            ),
        (id.clone(), any::<bool>(), arb_headers()).prop_map(|(stream_id, fin, headers)| {
            Frame::SynReply {
                stream_id,
                fin,
                headers,
            }
        }),
        (id.clone(), any::<bool>(), arb_headers()).prop_map(|(stream_id, fin, headers)| {
            Frame::Headers {
                stream_id,
                fin,
                headers,
            }
        }),
        (id.clone(), any::<u32>())
            .prop_map(|(stream_id, status)| Frame::RstStream { stream_id, status }),
        (
            any::<bool>(),
            prop::collection::vec((any::<u8>(), 0u32..0x0100_0000, any::<u32>()), 0..4)
        )
            .prop_map(|(clear, entries)| Frame::Settings { clear, entries }),
        any::<u32>().prop_map(|id| Frame::Ping { id }),
        (id.clone(), any::<u32>()).prop_map(|(last_good_stream_id, status)| Frame::GoAway {
            last_good_stream_id,
            status
        }),
        (id.clone(), id.clone())
            .prop_map(|(stream_id, delta)| Frame::WindowUpdate { stream_id, delta }),
        (
            id,
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..2048)
        )
            .prop_map(|(stream_id, fin, data)| Frame::Data {
                stream_id,
                fin,
                data: data.into()
            }),
    ]
}

proptest! {
    #[test]
    fn frames_round_trip_across_any_split(
        frames in prop::collection::vec(arb_frame(), 1..12),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let bytes = encode_all(&frames);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(bytes.len());
        let mut decoder = FrameDecoder::new();
        let mut decoded = Vec::new();
        let mut from = 0;
        for cut in cuts {
            decoder.feed(&bytes[from..cut]);
            from = cut;
            while let Some(frame) = decoder.next_frame().unwrap() {
                decoded.push(frame);
            }
        }
        prop_assert_eq!(decoder.buffered(), 0);
        prop_assert_eq!(decoded, frames);
    }

    #[test]
    fn arbitrary_bytes_never_panic_or_overrun(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let mut decoder = FrameDecoder::new();
        decoder.feed(&bytes);
        while let Ok(Some(_)) = decoder.next_frame() {}
        prop_assert!(decoder.buffered() <= bytes.len());
    }
}
