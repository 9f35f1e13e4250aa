//! The conversion machinery: [`FromPb`] turns a k8s-pb message into the k8s-openapi type whose
//! serialization is the JSON the API server works on.
//!
//! Kubernetes' protobuf encoding writes every non-pointer Go field, zero or not, while its JSON
//! encoder leaves zero `omitempty` fields out. So a scalar bound for an optional JSON field is
//! dropped when it is zero ([`FromPb::from_pb_opt`]), and defaulting sees it as unset, as it
//! would in Kubernetes. A Go pointer field is written only when set, and there zero is a real
//! value (`replicas: 0`, `runAsUser: 0`, `automountServiceAccountToken: false`): such fields are
//! marked `ptr` in [`from_pb!`] and kept as they are.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, MicroTime, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use k8s_pb::apimachinery::pkg::api::resource as pb_resource;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as pb_meta;
use k8s_pb::apimachinery::pkg::util::intstr as pb_intstr;

use crate::machinery::status::Status;

/// Conversion of a decoded k8s-pb value `S` into the k8s-openapi value `Self`.
pub(super) trait FromPb<S>: Sized {
    /// Converts a value that is present.
    fn from_pb(src: S) -> Result<Self, Status>;

    /// Converts a value bound for an optional JSON field: `None` where Kubernetes' JSON
    /// encoder would leave the field out (a zero scalar, a zero time).
    fn from_pb_opt(src: S) -> Result<Option<Self>, Status> {
        Self::from_pb(src).map(Some)
    }
}

/// Implements [`FromPb`] for scalars: themselves, and from an absent value into a required field.
macro_rules! scalar {
    ($($t:ty),*) => {$(
        impl FromPb<$t> for $t {
            fn from_pb(src: $t) -> Result<Self, Status> {
                Ok(src)
            }

            fn from_pb_opt(src: $t) -> Result<Option<Self>, Status> {
                Ok((src != <$t>::default()).then_some(src))
            }
        }

        impl FromPb<Option<$t>> for $t {
            fn from_pb(src: Option<$t>) -> Result<Self, Status> {
                Ok(src.unwrap_or_default())
            }
        }
    )*};
}

scalar!(String, bool, i32, i64);

impl<S, T: FromPb<S>> FromPb<Option<S>> for Option<T> {
    fn from_pb(src: Option<S>) -> Result<Self, Status> {
        match src {
            Some(s) => T::from_pb_opt(s),
            None => Ok(None),
        }
    }
}

impl<S, T: FromPb<S>> FromPb<Vec<S>> for Vec<T> {
    fn from_pb(src: Vec<S>) -> Result<Self, Status> {
        src.into_iter().map(T::from_pb).collect()
    }
}

impl<S, T: FromPb<S>> FromPb<Vec<S>> for Option<Vec<T>> {
    fn from_pb(src: Vec<S>) -> Result<Self, Status> {
        if src.is_empty() {
            Ok(None)
        } else {
            FromPb::from_pb(src).map(Some)
        }
    }
}

impl<S, T: FromPb<S>> FromPb<BTreeMap<String, S>> for BTreeMap<String, T> {
    fn from_pb(src: BTreeMap<String, S>) -> Result<Self, Status> {
        src.into_iter()
            .map(|(k, v)| Ok((k, T::from_pb(v)?)))
            .collect()
    }
}

impl<S, T: FromPb<S>> FromPb<BTreeMap<String, S>> for Option<BTreeMap<String, T>> {
    fn from_pb(src: BTreeMap<String, S>) -> Result<Self, Status> {
        if src.is_empty() {
            Ok(None)
        } else {
            FromPb::from_pb(src).map(Some)
        }
    }
}

/// `[]byte` fields (`Secret.data`), written as base64 by [`ByteString`]'s serializer.
impl FromPb<Vec<u8>> for ByteString {
    fn from_pb(src: Vec<u8>) -> Result<Self, Status> {
        Ok(ByteString(src))
    }
}

impl FromPb<pb_resource::Quantity> for Quantity {
    fn from_pb(src: pb_resource::Quantity) -> Result<Self, Status> {
        Ok(Quantity(src.string.unwrap_or_default()))
    }
}

/// `intstr.Type`: 0 is an integer, 1 a string.
impl FromPb<pb_intstr::IntOrString> for IntOrString {
    fn from_pb(src: pb_intstr::IntOrString) -> Result<Self, Status> {
        match src.r#type.unwrap_or(0) {
            0 => Ok(IntOrString::Int(src.int_val.unwrap_or(0))),
            1 => Ok(IntOrString::String(src.str_val.unwrap_or_default())),
            t => Err(malformed(&format!("IntOrString has unknown type {t}"))),
        }
    }

    fn from_pb_opt(src: pb_intstr::IntOrString) -> Result<Option<Self>, Status> {
        Ok(match Self::from_pb(src)? {
            IntOrString::Int(0) => None,
            IntOrString::String(s) if s.is_empty() => None,
            v => Some(v),
        })
    }
}

/// A `Timestamp` message as Kubernetes writes it; Go writes a zero time as an empty message.
fn timestamp(seconds: Option<i64>, nanos: Option<i32>) -> Result<Option<Timestamp>, Status> {
    if seconds.is_none() && nanos.is_none() {
        return Ok(None);
    }
    let (seconds, nanos) = (seconds.unwrap_or(0), nanos.unwrap_or(0));
    Timestamp::new(seconds, nanos)
        .map(Some)
        .map_err(|e| malformed(&format!("time {seconds}s {nanos}ns is out of range: {e}")))
}

impl FromPb<pb_meta::Time> for Time {
    fn from_pb(src: pb_meta::Time) -> Result<Self, Status> {
        Ok(Self::from_pb_opt(src)?.unwrap_or(Time(Timestamp::UNIX_EPOCH)))
    }

    fn from_pb_opt(src: pb_meta::Time) -> Result<Option<Self>, Status> {
        Ok(timestamp(src.seconds, src.nanos)?.map(Time))
    }
}

impl FromPb<pb_meta::MicroTime> for MicroTime {
    fn from_pb(src: pb_meta::MicroTime) -> Result<Self, Status> {
        Ok(Self::from_pb_opt(src)?.unwrap_or(MicroTime(Timestamp::UNIX_EPOCH)))
    }

    fn from_pb_opt(src: pb_meta::MicroTime) -> Result<Option<Self>, Status> {
        Ok(timestamp(src.seconds, src.nanos)?.map(MicroTime))
    }
}

/// `managedFields[].fieldsV1` carries the field set as JSON bytes.
impl FromPb<pb_meta::FieldsV1> for FieldsV1 {
    fn from_pb(src: pb_meta::FieldsV1) -> Result<Self, Status> {
        let raw = src.raw.unwrap_or_default();
        if raw.is_empty() {
            return Ok(FieldsV1(serde_json::Value::Object(Default::default())));
        }
        serde_json::from_slice(&raw)
            .map(FieldsV1)
            .map_err(|e| malformed(&format!("fieldsV1 is not JSON: {e}")))
    }
}

/// A Go pointer field: kept whenever it is set, zero included.
pub(super) fn ptr<S, T: FromPb<S>>(src: Option<S>) -> Result<Option<T>, Status> {
    src.map(T::from_pb).transpose()
}

/// A required object field (`spec.template`, `roleRef`): an absent message converts as empty.
pub(super) fn required<S: Default, T: FromPb<S>>(src: Option<S>) -> Result<T, Status> {
    T::from_pb(src.unwrap_or_default())
}

/// Whether a decoded field carries anything.
pub(super) trait IsSet {
    /// `true` when the field was present in the message with content.
    fn is_set(&self) -> bool;
}

impl<T> IsSet for Option<T> {
    fn is_set(&self) -> bool {
        self.is_some()
    }
}

impl<T> IsSet for Vec<T> {
    fn is_set(&self) -> bool {
        !self.is_empty()
    }
}

/// Fails on a field this server does not convert, rather than dropping it unseen.
pub(super) fn reject<V: IsSet>(owner: &str, field: &str, value: &V) -> Result<(), Status> {
    if !value.is_set() {
        return Ok(());
    }
    Err(unsupported(&format!(
        "the protobuf body sets {owner}.{}, which this server does not decode from protobuf",
        camel(field)
    )))
}

/// A 415 for a protobuf body this server cannot decode, pointing the user at JSON or YAML.
pub(super) fn unsupported(what: &str) -> Status {
    let mut status = Status::unsupported_media_type(super::CONTENT_TYPE);
    status.message = format!(
        "{what}; send the object as JSON or YAML instead, e.g. `kubectl create ... --dry-run=client -o yaml | kubectl apply -f -`"
    );
    status
}

/// A 400 for bytes that are not a valid Kubernetes protobuf message.
pub(super) fn malformed(detail: &str) -> Status {
    Status::bad_request(format!(
        "the body of the request could not be decoded as protobuf: {detail}"
    ))
}

/// `gce_persistent_disk` → `gcePersistentDisk`, the JSON name of a k8s-pb field.
fn camel(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.trim_start_matches("r#").chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Implements [`FromPb`] for a k8s-openapi type from its k8s-pb message, field by field.
///
/// The message is destructured exhaustively, so a field added to k8s-pb fails the build
/// until it is converted or rejected here. Sections, in this order:
/// - `{ a, b: ptr, c: req }` — fields of the same name: default conversion, a Go pointer
///   ([`ptr`]), or a required object ([`required`]);
/// - `rename { r#type => type_ }` — fields named differently (with the same `: ptr` options);
/// - `base field` — an embedded Go struct (`ProbeHandler`, `LocalObjectReference`), itself
///   converted into the target type, whose fields the other sections then complete;
/// - `reject { x }` — fields this server does not decode: a body that sets one fails with 415.
///
/// Target fields not named are left at their default; `exact` before the message (for types
/// without `Default`) makes the compiler check that every target field is named.
macro_rules! from_pb {
    (exact $($rest:tt)*) => {
        $crate::machinery::protobuf::convert::from_pb!(@impl [] $($rest)*);
    };
    (
        $sm:ident :: $src:ident => $dm:ident :: $dst:ident { $($fields:tt)* }
        $(rename { $($renames:tt)* })?
        $(base $base:ident)?
        $(reject { $($rejected:tt)* })?
    ) => {
        $crate::machinery::protobuf::convert::from_pb!(
            @impl [..$crate::machinery::protobuf::convert::field!(base ; $($base)?)]
            $sm::$src => $dm::$dst { $($fields)* }
            $(rename { $($renames)* })?
            $(base $base)?
            $(reject { $($rejected)* })?
        );
    };
    (
        @impl [$($tail:tt)*]
        $sm:ident :: $src:ident => $dm:ident :: $dst:ident {
            $($field:ident $(: $how:ident)?),* $(,)?
        }
        $(rename { $($old:ident => $new:ident $(: $rhow:ident)?),* $(,)? })?
        $(base $base:ident)?
        $(reject { $($rejected:ident),* $(,)? })?
    ) => {
        impl $crate::machinery::protobuf::convert::FromPb<$sm::$src> for $dm::$dst {
            #[allow(clippy::needless_update)]
            fn from_pb(src: $sm::$src) -> Result<Self, $crate::machinery::status::Status> {
                let $sm::$src { $($field,)* $($($old,)*)? $($base,)? $($($rejected,)*)? } = src;
                $($(
                    $crate::machinery::protobuf::convert::reject(
                        stringify!($dst), stringify!($rejected), &$rejected,
                    )?;
                )*)?
                Ok(Self {
                    $($field: $crate::machinery::protobuf::convert::field!($($how)? ; $field),)*
                    $($($new: $crate::machinery::protobuf::convert::field!($($rhow)? ; $old),)*)?
                    $($tail)*
                })
            }
        }
    };
}

/// One field conversion of [`from_pb!`].
macro_rules! field {
    (; $v:ident) => {
        $crate::machinery::protobuf::convert::FromPb::from_pb($v)?
    };
    (ptr ; $v:ident) => {
        $crate::machinery::protobuf::convert::ptr($v)?
    };
    (req ; $v:ident) => {
        $crate::machinery::protobuf::convert::required($v)?
    };
    (base ;) => {
        Default::default()
    };
    (base ; $v:ident) => {
        $crate::machinery::protobuf::convert::required($v)?
    };
}

pub(crate) use {field, from_pb};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_drop_zero_only_where_optional() {
        let none: Option<i32> = FromPb::from_pb(Some(0)).unwrap();
        assert_eq!(none, None);
        let kept: Option<i32> = ptr(Some(0)).unwrap();
        assert_eq!(kept, Some(0));
        let required: i32 = FromPb::from_pb(Some(0)).unwrap();
        assert_eq!(required, 0);
        let empty: Option<String> = FromPb::from_pb(Some(String::new())).unwrap();
        assert_eq!(empty, None);
        let falsy: Option<bool> = FromPb::from_pb(Some(false)).unwrap();
        assert_eq!(falsy, None);
        let absent: String = FromPb::from_pb(None::<String>).unwrap();
        assert_eq!(absent, "");
    }

    #[test]
    fn empty_collections_are_left_out() {
        let list: Option<Vec<String>> = FromPb::from_pb(Vec::<String>::new()).unwrap();
        assert_eq!(list, None);
        let list: Option<Vec<String>> = FromPb::from_pb(vec![String::new()]).unwrap();
        assert_eq!(
            list,
            Some(vec![String::new()]),
            "elements are kept even when empty"
        );
        let map: Option<BTreeMap<String, String>> =
            FromPb::from_pb(BTreeMap::<String, String>::new()).unwrap();
        assert_eq!(map, None);
    }

    #[test]
    fn int_or_string_table() {
        let cases = [
            (Some(0), Some(8080), None, Some(IntOrString::Int(8080))),
            (None, Some(53), None, Some(IntOrString::Int(53))),
            (
                Some(1),
                None,
                Some("http"),
                Some(IntOrString::String("http".into())),
            ),
            (Some(0), Some(0), None, None),
            (Some(1), None, Some(""), None),
        ];
        for (ty, int_val, str_val, want) in cases {
            let src = pb_intstr::IntOrString {
                r#type: ty,
                int_val,
                str_val: str_val.map(String::from),
            };
            let got: Option<IntOrString> = FromPb::from_pb(Some(src)).unwrap();
            assert_eq!(got, want, "type {ty:?} int {int_val:?} str {str_val:?}");
        }
        let bad = pb_intstr::IntOrString {
            r#type: Some(7),
            int_val: None,
            str_val: None,
        };
        let err = <IntOrString as FromPb<_>>::from_pb(bad).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.message.contains("unknown type 7"), "{}", err.message);
    }

    #[test]
    fn times_are_rfc3339_and_an_empty_time_is_unset() {
        let t: Option<Time> = FromPb::from_pb(Some(pb_meta::Time {
            seconds: Some(1_700_000_000),
            nanos: Some(5),
        }))
        .unwrap();
        assert_eq!(serde_json::to_value(t).unwrap(), "2023-11-14T22:13:20Z");
        let zero: Option<Time> = FromPb::from_pb(Some(pb_meta::Time::default())).unwrap();
        assert_eq!(zero, None);
        let micro: Option<MicroTime> = FromPb::from_pb(Some(pb_meta::MicroTime {
            seconds: Some(1_700_000_000),
            nanos: Some(123_456_000),
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(micro).unwrap(),
            "2023-11-14T22:13:20.123456Z"
        );
        let err = <Time as FromPb<_>>::from_pb(pb_meta::Time {
            seconds: Some(i64::MAX),
            nanos: None,
        })
        .unwrap_err();
        assert_eq!(err.code, 400);
    }

    #[test]
    fn bytes_quantities_and_fields() {
        let b: ByteString = FromPb::from_pb(b"q".to_vec()).unwrap();
        assert_eq!(serde_json::to_value(b).unwrap(), "cQ==");
        let q: Quantity = FromPb::from_pb(pb_resource::Quantity {
            string: Some("500m".into()),
        })
        .unwrap();
        assert_eq!(q, Quantity("500m".into()));
        let f: FieldsV1 = FromPb::from_pb(pb_meta::FieldsV1 {
            raw: Some(br#"{"f:data":{}}"#.to_vec()),
        })
        .unwrap();
        assert_eq!(f.0, serde_json::json!({"f:data": {}}));
        let err = <FieldsV1 as FromPb<_>>::from_pb(pb_meta::FieldsV1 {
            raw: Some(b"{".to_vec()),
        })
        .unwrap_err();
        assert_eq!(err.code, 400);
    }

    #[test]
    fn reject_names_the_json_field() {
        assert!(reject("Volume", "nfs", &None::<i32>).is_ok());
        assert!(reject("Volume", "nfs", &Vec::<i32>::new()).is_ok());
        let err = reject("Volume", "gce_persistent_disk", &Some(1)).unwrap_err();
        assert_eq!(err.code, 415);
        assert!(
            err.message
                .starts_with("the protobuf body sets Volume.gcePersistentDisk,"),
            "{}",
            err.message
        );
        assert!(err.message.contains("kubectl apply -f"), "{}", err.message);
        assert_eq!(camel("r#type"), "type");
    }
}
