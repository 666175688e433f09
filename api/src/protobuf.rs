//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`)
//! decoded into the JSON objects the rest of minik works on.
//!
//! Mirrors apimachinery's protobuf serializer (`runtime/serializer/protobuf`):
//! a body is the magic prefix `k8s\0` and a `runtime.Unknown` message whose
//! `typeMeta` names the apiVersion and kind and whose `raw` bytes are the
//! object's own proto2 message (Kubernetes' `generated.proto`). `kubectl`'s
//! typed clients (`kubectl create deployment|service|secret|…`,
//! `kubectl autoscale`, `kubectl drain`'s evictions) send this.
//!
//! The decoder is a small proto2 wire-format reader (varints, fixed 32/64-bit,
//! length-delimited fields) walking a schema table generated from Kubernetes'
//! protobuf definitions ([`schema`], `protobuf_schema.rs`, written by
//! `scripts/gen-protobuf-schema.py`). The object it produces is the JSON
//! kube-apiserver would marshal from the same Go object: apimachinery's
//! special types become their JSON forms (`Time` → `"2024-01-02T03:04:05Z"`,
//! `MicroTime` with microseconds, `Quantity` → its string, `IntOrString` →
//! number or string, `FieldsV1` → its JSON), `bytes` become base64, embedded
//! structs Go's JSON inlines (`Volume`'s `volumeSource`) are inlined, and a
//! zero scalar is dropped unless Go's JSON would keep it (a pointer such as
//! `spec.replicas: 0`, or a field without `omitempty`) — Go's protobuf
//! writes every non-pointer field, zero or not.
//!
//! Simplified on purpose: only the kinds minik serves (plus `Binding`,
//! `Scale`, `Eviction` and `DeleteOptions`) are decoded, by their exact
//! apiVersion; responses stay JSON (clients accept it); unknown fields are
//! skipped, as Go's unmarshaller does; a non-repeated field sent twice keeps
//! its last value (proto2 would merge two copies of a message).

#[rustfmt::skip]
#[path = "protobuf_schema.rs"]
mod schema;

use serde_json::{Map, Number, Value};

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Why a protobuf body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    #[error("the protobuf body does not start with the Kubernetes prefix \"k8s\\x00\"")]
    MissingMagic,
    #[error("malformed protobuf envelope (runtime.Unknown): {0}")]
    Envelope(WireError),
    #[error("the protobuf envelope does not name the object's kind")]
    MissingKind,
    #[error("protobuf content encoding {0:?} is not supported")]
    ContentEncoding(String),
    #[error("protobuf content type {0:?} is not supported")]
    ContentType(String),
    #[error("{kind} ({api_version}) cannot be sent as protobuf to minik; send JSON")]
    UnsupportedKind { api_version: String, kind: String },
    #[error("malformed protobuf {kind}: {source}")]
    Object { kind: String, source: WireError },
}

impl ProtobufError {
    /// The kind the envelope named, if decoding got that far.
    pub fn kind(&self) -> Option<&str> {
        match self {
            ProtobufError::UnsupportedKind { kind, .. } | ProtobufError::Object { kind, .. } => {
                Some(kind)
            }
            _ => None,
        }
    }
}

/// A wire-format fault, with the JSON path of the field it was found in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", if path.is_empty() { String::new() } else { format!("at {path}: ") })]
pub struct WireError {
    pub path: String,
    pub reason: String,
}

impl WireError {
    fn new(reason: impl Into<String>) -> Self {
        WireError {
            path: String::new(),
            reason: reason.into(),
        }
    }

    /// Prefixes the path with the field the fault was inside.
    fn within(mut self, field: &str) -> Self {
        self.path = if self.path.is_empty() {
            field.to_string()
        } else if self.path.starts_with('[') {
            format!("{field}{}", self.path)
        } else {
            format!("{field}.{}", self.path)
        };
        self
    }
}

// ---------------------------------------------------------------- the schema

/// A protobuf message: its fields, by number.
struct Message {
    fields: &'static [Field],
}

struct Field {
    number: u32,
    json: &'static str,
    kind: Kind,
    label: Label,
    /// Whether a zero value (`""`, `0`, `false`) stays in the JSON: Go
    /// pointers and fields without `omitempty`.
    keep_zero: bool,
}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    I32,
    I64,
    Bool,
    /// Base64 in JSON.
    Bytes,
    Msg(&'static Message),
    /// `meta/v1.Time` {1: seconds, 2: nanos} → RFC 3339, seconds precision.
    Time,
    /// `meta/v1.MicroTime` → RFC 3339 with six fractional digits.
    MicroTime,
    /// `resource.Quantity` {1: string} → the string.
    Quantity,
    /// `intstr.IntOrString` {1: type, 2: intVal, 3: strVal} → number or string.
    IntOrString,
    /// `meta/v1.FieldsV1` {1: raw JSON} → that JSON.
    FieldsV1,
    /// A Go `[]string` type with its own message, `ExtraValue` {1: repeated
    /// items} → a JSON array of strings.
    StringList,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    One,
    Repeated,
    /// `map<string, kind>`: repeated entries {1: key, 2: value}.
    Map,
    /// An embedded struct whose fields Go's JSON puts in the parent object.
    Inline,
}

/// A kind decoded from protobuf; `api_version: None` accepts any (the
/// `DeleteOptions` every group version carries).
struct Root {
    api_version: Option<&'static str>,
    kind: &'static str,
    message: &'static Message,
}

// ---------------------------------------------------------------- decoding

/// Decodes a Kubernetes protobuf body (`k8s\0` + `runtime.Unknown`) into the
/// object's JSON, with `apiVersion` and `kind` from its `TypeMeta`.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let unknown = body
        .strip_prefix(MAGIC)
        .ok_or(ProtobufError::MissingMagic)?;
    let envelope = Envelope::parse(unknown).map_err(ProtobufError::Envelope)?;
    if envelope.kind.is_empty() {
        return Err(ProtobufError::MissingKind);
    }
    if !envelope.content_encoding.is_empty() {
        return Err(ProtobufError::ContentEncoding(envelope.content_encoding));
    }
    if !envelope.content_type.is_empty() && envelope.content_type != CONTENT_TYPE {
        return Err(ProtobufError::ContentType(envelope.content_type));
    }
    let root = schema::ROOTS
        .iter()
        .find(|r| {
            r.kind == envelope.kind
                && r.api_version
                    .is_none_or(|v| v == envelope.api_version.as_str())
        })
        .ok_or_else(|| ProtobufError::UnsupportedKind {
            api_version: envelope.api_version.clone(),
            kind: envelope.kind.clone(),
        })?;
    let fields =
        decode_message(root.message, envelope.raw).map_err(|source| ProtobufError::Object {
            kind: envelope.kind.clone(),
            source,
        })?;
    let mut object = Map::new();
    if !envelope.api_version.is_empty() {
        object.insert("apiVersion".into(), Value::String(envelope.api_version));
    }
    object.insert("kind".into(), Value::String(envelope.kind));
    object.extend(fields);
    Ok(Value::Object(object))
}

/// `runtime.Unknown`: {1: typeMeta {1: apiVersion, 2: kind}, 2: raw,
/// 3: contentEncoding, 4: contentType}.
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

impl<'a> Envelope<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut env = Envelope {
            api_version: String::new(),
            kind: String::new(),
            raw: &[],
            content_encoding: String::new(),
            content_type: String::new(),
        };
        let mut r = Reader::new(buf);
        while let Some((number, wire)) = r.key()? {
            match (number, wire) {
                (1, WIRE_LEN) => {
                    let mut tm = Reader::new(r.len_delimited()?);
                    while let Some((n, w)) = tm.key()? {
                        match (n, w) {
                            (1, WIRE_LEN) => env.api_version = tm.string()?,
                            (2, WIRE_LEN) => env.kind = tm.string()?,
                            _ => tm.skip(w)?,
                        }
                    }
                }
                (2, WIRE_LEN) => env.raw = r.len_delimited()?,
                (3, WIRE_LEN) => env.content_encoding = r.string()?,
                (4, WIRE_LEN) => env.content_type = r.string()?,
                _ => r.skip(wire)?,
            }
        }
        Ok(env)
    }
}

/// Decodes one message into its JSON fields, in schema order.
fn decode_message(msg: &'static Message, buf: &[u8]) -> Result<Map<String, Value>, WireError> {
    let mut slots: Vec<Option<Value>> = vec![None; msg.fields.len()];
    let mut r = Reader::new(buf);
    while let Some((number, wire)) = r.key()? {
        let Some(i) = msg.fields.iter().position(|f| f.number == number) else {
            r.skip(wire)?;
            continue;
        };
        let f = &msg.fields[i];
        decode_field(f, wire, &mut r, &mut slots[i]).map_err(|e| e.within(f.json))?;
    }
    let mut out = Map::new();
    for (f, slot) in msg.fields.iter().zip(slots) {
        let Some(value) = slot else { continue };
        match (f.label, value) {
            (Label::Inline, Value::Object(inner)) => out.extend(inner),
            (Label::One, v) if !f.keep_zero && is_scalar(f.kind) && is_zero(&v) => {}
            (_, v) => {
                out.insert(f.json.to_string(), v);
            }
        }
    }
    Ok(out)
}

fn decode_field(
    f: &Field,
    wire: u8,
    r: &mut Reader<'_>,
    slot: &mut Option<Value>,
) -> Result<(), WireError> {
    match f.label {
        Label::One | Label::Inline => *slot = Some(decode_value(f.kind, wire, r)?),
        Label::Repeated => {
            let Value::Array(items) = slot.get_or_insert_with(|| Value::Array(Vec::new())) else {
                unreachable!("a repeated field's slot is an array")
            };
            if wire == WIRE_LEN && is_varint(f.kind) {
                // Packed: one length-delimited run of varints.
                let mut packed = Reader::new(r.len_delimited()?);
                while !packed.at_end() {
                    items.push(decode_value(f.kind, WIRE_VARINT, &mut packed)?);
                }
            } else {
                let at = items.len();
                items
                    .push(decode_value(f.kind, wire, r).map_err(|e| e.within(&format!("[{at}]")))?);
            }
        }
        Label::Map => {
            expect_wire(wire, WIRE_LEN)?;
            let Value::Object(map) = slot.get_or_insert_with(|| Value::Object(Map::new())) else {
                unreachable!("a map field's slot is an object")
            };
            let mut entry = Reader::new(r.len_delimited()?);
            let (mut key, mut value) = (String::new(), None);
            while let Some((n, w)) = entry.key()? {
                match n {
                    1 => {
                        expect_wire(w, WIRE_LEN)?;
                        key = entry.string()?;
                    }
                    2 => value = Some(decode_value(f.kind, w, &mut entry)?),
                    _ => entry.skip(w)?,
                }
            }
            let value = match value {
                Some(v) => v,
                None => empty_value(f.kind)?,
            };
            map.insert(key, value);
        }
    }
    Ok(())
}

/// The value an absent map-entry value stands for: the kind decoded from a
/// zero-length value (`""`, `{}`, or `"0"` for a `Quantity`).
fn empty_value(kind: Kind) -> Result<Value, WireError> {
    decode_value(kind, WIRE_LEN, &mut Reader::new(&[0]))
}

fn decode_value(kind: Kind, wire: u8, r: &mut Reader<'_>) -> Result<Value, WireError> {
    Ok(match kind {
        Kind::Str => {
            expect_wire(wire, WIRE_LEN)?;
            Value::String(r.string()?)
        }
        Kind::I32 => {
            expect_wire(wire, WIRE_VARINT)?;
            // proto int32: the varint's low 32 bits, two's complement.
            Value::Number(Number::from(r.varint()? as i32))
        }
        Kind::I64 => {
            expect_wire(wire, WIRE_VARINT)?;
            Value::Number(Number::from(r.varint()? as i64))
        }
        Kind::Bool => {
            expect_wire(wire, WIRE_VARINT)?;
            Value::Bool(r.varint()? != 0)
        }
        Kind::Bytes => {
            expect_wire(wire, WIRE_LEN)?;
            Value::String(base64(r.len_delimited()?))
        }
        Kind::Msg(msg) => {
            expect_wire(wire, WIRE_LEN)?;
            Value::Object(decode_message(msg, r.len_delimited()?)?)
        }
        Kind::Time | Kind::MicroTime => {
            expect_wire(wire, WIRE_LEN)?;
            decode_time(r.len_delimited()?, matches!(kind, Kind::MicroTime))?
        }
        Kind::Quantity => {
            expect_wire(wire, WIRE_LEN)?;
            let mut q = Reader::new(r.len_delimited()?);
            let mut text = String::from("0");
            while let Some((n, w)) = q.key()? {
                match (n, w) {
                    (1, WIRE_LEN) => text = q.string()?,
                    _ => q.skip(w)?,
                }
            }
            Value::String(text)
        }
        Kind::IntOrString => {
            expect_wire(wire, WIRE_LEN)?;
            let mut v = Reader::new(r.len_delimited()?);
            let (mut is_string, mut int_val, mut str_val) = (false, 0i32, String::new());
            while let Some((n, w)) = v.key()? {
                match (n, w) {
                    (1, WIRE_VARINT) => is_string = v.varint()? == 1,
                    (2, WIRE_VARINT) => int_val = v.varint()? as i32,
                    (3, WIRE_LEN) => str_val = v.string()?,
                    _ => v.skip(w)?,
                }
            }
            if is_string {
                Value::String(str_val)
            } else {
                Value::Number(Number::from(int_val))
            }
        }
        Kind::StringList => {
            expect_wire(wire, WIRE_LEN)?;
            let mut v = Reader::new(r.len_delimited()?);
            let mut items = Vec::new();
            while let Some((n, w)) = v.key()? {
                match (n, w) {
                    (1, WIRE_LEN) => items.push(Value::String(v.string()?)),
                    _ => v.skip(w)?,
                }
            }
            Value::Array(items)
        }
        Kind::FieldsV1 => {
            expect_wire(wire, WIRE_LEN)?;
            let mut v = Reader::new(r.len_delimited()?);
            let mut raw: &[u8] = &[];
            while let Some((n, w)) = v.key()? {
                match (n, w) {
                    (1, WIRE_LEN) => raw = v.len_delimited()?,
                    _ => v.skip(w)?,
                }
            }
            if raw.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(raw)
                    .map_err(|e| WireError::new(format!("FieldsV1 is not JSON: {e}")))?
            }
        }
    })
}

/// Seconds of Go's zero `time.Time` (0001-01-01T00:00:00Z) since the epoch.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// `Time`/`MicroTime` {1: seconds, 2: nanos}; empty (Go's zero time) → null.
fn decode_time(buf: &[u8], micro: bool) -> Result<Value, WireError> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    let mut r = Reader::new(buf);
    while let Some((n, w)) = r.key()? {
        match (n, w) {
            (1, WIRE_VARINT) => seconds = r.varint()? as i64,
            (2, WIRE_VARINT) => nanos = r.varint()? as i32,
            _ => r.skip(w)?,
        }
    }
    if buf.is_empty() || (seconds == GO_ZERO_TIME_SECONDS && nanos == 0) {
        return Ok(Value::Null);
    }
    let t = jiff::Timestamp::new(seconds, nanos)
        .map_err(|e| WireError::new(format!("timestamp out of range: {e}")))?;
    let text = if micro {
        // Go's RFC3339Micro: always six fractional digits.
        let whole = t.strftime("%Y-%m-%dT%H:%M:%S");
        format!("{whole}.{:06}Z", t.subsec_microsecond())
    } else {
        crate::meta::format_timestamp(t)
    };
    Ok(Value::String(text))
}

fn is_scalar(kind: Kind) -> bool {
    matches!(kind, Kind::Str | Kind::I32 | Kind::I64 | Kind::Bool)
}

fn is_varint(kind: Kind) -> bool {
    matches!(kind, Kind::I32 | Kind::I64 | Kind::Bool)
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_i64() == Some(0),
        Value::Bool(b) => !b,
        _ => false,
    }
}

fn expect_wire(got: u8, want: u8) -> Result<(), WireError> {
    if got == want {
        Ok(())
    } else {
        Err(WireError::new(format!(
            "wire type {got} where the schema expects {want}"
        )))
    }
}

/// Standard base64 with padding, as Go's JSON writes `[]byte`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------- the wire

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

/// A cursor over proto2 wire format.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| WireError::new("truncated varint"))?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::new("varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or_else(|| WireError::new("field runs past the end of its message"))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn len_delimited(&mut self) -> Result<&'a [u8], WireError> {
        let n = usize::try_from(self.varint()?)
            .map_err(|_| WireError::new("length does not fit in memory"))?;
        self.take(n)
    }

    /// A string field; invalid UTF-8 is replaced, as Go's JSON does.
    fn string(&mut self) -> Result<String, WireError> {
        Ok(String::from_utf8_lossy(self.len_delimited()?).into_owned())
    }

    /// The next field's number and wire type, or `None` at the end.
    fn key(&mut self) -> Result<Option<(u32, u8)>, WireError> {
        if self.at_end() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| WireError::new(format!("invalid field number {}", key >> 3)))?;
        Ok(Some((number, (key & 7) as u8)))
    }

    fn skip(&mut self, wire: u8) -> Result<(), WireError> {
        match wire {
            WIRE_VARINT => self.varint().map(drop),
            WIRE_FIXED64 => self.take(8).map(drop),
            WIRE_LEN => self.len_delimited().map(drop),
            WIRE_FIXED32 => self.take(4).map(drop),
            other => Err(WireError::new(format!("unsupported wire type {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A minimal proto2 encoder: enough to build the bodies kubectl sends.
    #[derive(Default)]
    struct Enc(Vec<u8>);

    impl Enc {
        fn varint(&mut self, mut v: u64) {
            while v >= 0x80 {
                self.0.push((v as u8) | 0x80);
                v >>= 7;
            }
            self.0.push(v as u8);
        }
        fn key(&mut self, number: u32, wire: u8) {
            self.varint(u64::from(number) << 3 | u64::from(wire));
        }
        fn int(mut self, number: u32, v: i64) -> Self {
            self.key(number, WIRE_VARINT);
            self.varint(v as u64);
            self
        }
        fn bytes(mut self, number: u32, b: &[u8]) -> Self {
            self.key(number, WIRE_LEN);
            self.varint(b.len() as u64);
            self.0.extend_from_slice(b);
            self
        }
        fn str(self, number: u32, s: &str) -> Self {
            self.bytes(number, s.as_bytes())
        }
        fn msg(self, number: u32, m: Enc) -> Self {
            self.bytes(number, &m.0)
        }
        fn entry(self, number: u32, key: &str, value: Enc) -> Self {
            self.msg(number, Enc::default().str(1, key).bytes(2, &value.0))
        }
        fn str_entry(self, number: u32, key: &str, value: &str) -> Self {
            self.entry(number, key, Enc(value.as_bytes().to_vec()))
        }
    }

    fn body(api_version: &str, kind: &str, raw: Enc) -> Vec<u8> {
        let type_meta = Enc::default().str(1, api_version).str(2, kind);
        let unknown = Enc::default()
            .msg(1, type_meta)
            .msg(2, raw)
            .str(3, "")
            .str(4, "");
        [MAGIC.as_slice(), &unknown.0].concat()
    }

    /// ObjectMeta as Go writes it: every non-pointer field, zero or not.
    fn meta(name: &str, namespace: &str) -> Enc {
        Enc::default()
            .str(1, name)
            .str(2, "")
            .str(3, namespace)
            .str(4, "")
            .str(5, "")
            .str(6, "")
            .int(7, 0)
            .msg(8, Enc::default())
    }

    #[test]
    fn namespace_with_labels() {
        let ns = Enc::default()
            .msg(
                1,
                meta("shop", "")
                    .str_entry(11, "team", "a")
                    .str_entry(11, "env", "prod"),
            )
            .msg(2, Enc::default())
            .msg(3, Enc::default().str(1, ""));
        let obj = decode(&body("v1", "Namespace", ns)).unwrap();
        assert_eq!(
            obj,
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": "shop",
                    "creationTimestamp": null,
                    "labels": {"team": "a", "env": "prod"}
                },
                "spec": {},
                "status": {}
            })
        );
    }

    #[test]
    fn configmap_data_and_binary_data() {
        let cm = Enc::default()
            .msg(1, meta("c", "default"))
            .str_entry(2, "a", "b")
            .str_entry(2, "empty", "")
            .entry(3, "bin", Enc(vec![0, 1, 2, 255]));
        let obj = decode(&body("v1", "ConfigMap", cm)).unwrap();
        assert_eq!(obj["data"], json!({"a": "b", "empty": ""}));
        assert_eq!(obj["binaryData"], json!({"bin": "AAEC/w=="}));
        assert_eq!(obj["metadata"]["namespace"], "default");
        assert!(obj.get("immutable").is_none());
    }

    #[test]
    fn secret_bytes_are_base64_and_pointer_bools_keep_false() {
        let secret = Enc::default()
            .msg(1, meta("s", ""))
            .entry(2, "p", Enc(b"q".to_vec()))
            .entry(2, "tls.key", Enc(b"-----BEGIN".to_vec()))
            .str(3, "Opaque")
            .int(5, 0);
        let obj = decode(&body("v1", "Secret", secret)).unwrap();
        assert_eq!(
            obj["data"],
            json!({"p": "cQ==", "tls.key": "LS0tLS1CRUdJTg=="})
        );
        assert_eq!(obj["type"], "Opaque");
        // `immutable` is a *bool: an explicit false is kept.
        assert_eq!(obj["immutable"], json!(false));
    }

    fn container() -> Enc {
        Enc::default()
            .str(1, "busybox")
            .str(2, "busybox")
            .msg(
                6,
                Enc::default()
                    .str(1, "")
                    .int(2, 0)
                    .int(3, 80)
                    .str(4, "TCP")
                    .str(5, ""),
            )
            .msg(7, Enc::default().str(1, "MODE").str(2, "demo"))
            .msg(
                7,
                Enc::default().str(1, "POD_IP").str(2, "").msg(
                    3,
                    Enc::default().msg(1, Enc::default().str(1, "v1").str(2, "status.podIP")),
                ),
            )
            .msg(8, Enc::default())
            .str(5, "")
            .str(13, "/dev/termination-log")
            .str(14, "IfNotPresent")
            .int(16, 0)
            .int(17, 0)
            .int(18, 0)
            .str(20, "File")
    }

    #[test]
    fn deployment_with_replicas_selector_and_template() {
        let spec = Enc::default()
            .int(1, 2)
            .msg(2, Enc::default().str_entry(1, "app", "d"))
            .msg(
                3,
                Enc::default()
                    .msg(1, meta("", "").str_entry(11, "app", "d"))
                    .msg(2, Enc::default().msg(2, container()).str(3, "Always")),
            )
            .msg(4, Enc::default())
            .int(5, 0)
            .int(7, 0);
        let d = Enc::default()
            .msg(1, meta("d", ""))
            .msg(2, spec)
            .msg(3, Enc::default().int(1, 0).int(2, 0));
        let obj = decode(&body("apps/v1", "Deployment", d)).unwrap();
        assert_eq!(
            obj,
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "d", "creationTimestamp": null},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"app": "d"}},
                    "template": {
                        "metadata": {"creationTimestamp": null, "labels": {"app": "d"}},
                        "spec": {
                            "containers": [{
                                "name": "busybox",
                                "image": "busybox",
                                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                "env": [
                                    {"name": "MODE", "value": "demo"},
                                    {"name": "POD_IP", "valueFrom": {"fieldRef": {
                                        "apiVersion": "v1", "fieldPath": "status.podIP"}}}
                                ],
                                "resources": {},
                                "terminationMessagePath": "/dev/termination-log",
                                "terminationMessagePolicy": "File",
                                "imagePullPolicy": "IfNotPresent"
                            }],
                            "restartPolicy": "Always"
                        }
                    },
                    "strategy": {}
                },
                "status": {}
            })
        );
    }

    #[test]
    fn deployment_replicas_zero_is_kept() {
        let d = Enc::default()
            .msg(1, meta("d", ""))
            .msg(2, Enc::default().int(1, 0).int(5, 0));
        let obj = decode(&body("apps/v1", "Deployment", d)).unwrap();
        assert_eq!(obj["spec"], json!({"replicas": 0}));
    }

    #[test]
    fn service_ports_target_port_and_cluster_ip() {
        let port = |name: &str, port: i64, target: Enc, node_port: i64| {
            Enc::default()
                .str(1, name)
                .str(2, "TCP")
                .int(3, port)
                .msg(4, target)
                .int(5, node_port)
        };
        let spec = Enc::default()
            .msg(
                1,
                port(
                    "80-8080",
                    80,
                    Enc::default().int(1, 0).int(2, 8080).str(3, ""),
                    0,
                ),
            )
            .msg(
                1,
                port(
                    "web",
                    443,
                    Enc::default().int(1, 1).int(2, 0).str(3, "https"),
                    30443,
                ),
            )
            .str(3, "10.96.0.20")
            .str(4, "NodePort")
            .str(7, "None")
            .str(11, "")
            .int(13, 0)
            .str(18, "10.96.0.20")
            .str_entry(2, "app", "web");
        let svc = Enc::default()
            .msg(1, meta("n", ""))
            .msg(2, spec)
            .msg(3, Enc::default().msg(1, Enc::default()));
        let obj = decode(&body("v1", "Service", svc)).unwrap();
        assert_eq!(
            obj["spec"],
            json!({
                "ports": [
                    {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "web", "protocol": "TCP", "port": 443, "targetPort": "https",
                     "nodePort": 30443}
                ],
                "selector": {"app": "web"},
                "clusterIP": "10.96.0.20",
                "type": "NodePort",
                "sessionAffinity": "None",
                "clusterIPs": ["10.96.0.20"]
            })
        );
        assert_eq!(obj["status"], json!({"loadBalancer": {}}));
    }

    #[test]
    fn volume_source_is_inlined() {
        let volume = Enc::default().str(1, "data").msg(
            2,
            Enc::default().msg(
                2,
                Enc::default()
                    .str(1, "Memory")
                    .msg(2, Enc::default().str(1, "64Mi")),
            ),
        );
        let pod = Enc::default().msg(1, meta("p", "")).msg(
            2,
            Enc::default()
                .msg(1, volume)
                .msg(2, Enc::default().str(1, "c").str(2, "busybox")),
        );
        let obj = decode(&body("v1", "Pod", pod)).unwrap();
        assert_eq!(
            obj["spec"]["volumes"],
            json!([{"name": "data", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}])
        );
    }

    #[test]
    fn times_quantities_and_packed_ints() {
        let t = Enc::default().int(1, 1_704_164_645).int(2, 123_456_789);
        let lease = Enc::default()
            .msg(1, meta("l", "").msg(8, Enc(t.0.clone())))
            .msg(
                2,
                Enc::default()
                    .str(1, "holder")
                    .int(2, 10)
                    .msg(3, Enc(t.0.clone()))
                    .int(5, 0),
            );
        let obj = decode(&body("coordination.k8s.io/v1", "Lease", lease)).unwrap();
        assert_eq!(obj["metadata"]["creationTimestamp"], "2024-01-02T03:04:05Z");
        assert_eq!(
            obj["spec"],
            json!({
                "holderIdentity": "holder",
                "leaseDurationSeconds": 10,
                "acquireTime": "2024-01-02T03:04:05.123456Z",
                "leaseTransitions": 0
            })
        );

        // Repeated int32 arrives unpacked from Go, but packed is accepted too.
        let mut packed = Enc::default();
        for v in [1u64, 2, 300] {
            packed.varint(v);
        }
        let pod = Enc::default().msg(1, meta("p", "")).msg(
            2,
            Enc::default().msg(
                14,
                Enc::default().int(4, 1000).bytes(4, &packed.0).int(5, 2000),
            ),
        );
        let obj = decode(&body("v1", "Pod", pod)).unwrap();
        assert_eq!(
            obj["spec"]["securityContext"],
            json!({"supplementalGroups": [1000, 1, 2, 300], "fsGroup": 2000})
        );
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let ns = Enc::default()
            .msg(1, meta("x", "").int(999, 7).str(998, "future"))
            .int(50, 1);
        let mut raw = ns;
        raw.key(51, WIRE_FIXED64);
        raw.0.extend_from_slice(&[0; 8]);
        raw.key(52, WIRE_FIXED32);
        raw.0.extend_from_slice(&[0; 4]);
        let obj = decode(&body("v1", "Namespace", raw)).unwrap();
        assert_eq!(
            obj["metadata"],
            json!({"name": "x", "creationTimestamp": null})
        );
    }

    #[test]
    fn delete_options_accept_any_group_version() {
        let opts = Enc::default().int(1, 0).str(4, "Foreground");
        let obj = decode(&body("apps/v1", "DeleteOptions", opts)).unwrap();
        assert_eq!(
            obj,
            json!({"apiVersion": "apps/v1", "kind": "DeleteOptions",
                   "gracePeriodSeconds": 0, "propagationPolicy": "Foreground"})
        );
    }

    #[test]
    fn errors_name_the_kind_and_field() {
        assert_eq!(
            decode(b"{\"kind\":\"Pod\"}"),
            Err(ProtobufError::MissingMagic)
        );
        assert_eq!(
            decode(&body("", "", Enc::default())),
            Err(ProtobufError::MissingKind)
        );
        let err = decode(&body("example.com/v1", "Widget", Enc::default())).unwrap_err();
        assert_eq!(err.kind(), Some("Widget"));
        assert_eq!(
            err.to_string(),
            "Widget (example.com/v1) cannot be sent as protobuf to minik; send JSON"
        );

        // A ConfigMap whose label entry claims more bytes than it has.
        let mut bad = meta("c", "");
        bad.key(11, WIRE_LEN);
        bad.varint(40);
        bad.0.extend_from_slice(b"short");
        let err = decode(&body("v1", "ConfigMap", Enc::default().msg(1, bad))).unwrap_err();
        assert_eq!(err.kind(), Some("ConfigMap"));
        assert_eq!(
            err.to_string(),
            "malformed protobuf ConfigMap: at metadata.labels: field runs past the end of its message"
        );

        // The wrong wire type for a known field.
        let err = decode(&body("v1", "ConfigMap", Enc::default().int(1, 3))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed protobuf ConfigMap: at metadata: wire type 0 where the schema expects 2"
        );
    }

    #[test]
    fn base64_matches_go() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }
}
