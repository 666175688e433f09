//! `GET /openapi/v2`: the Swagger 2.0 document, one for every served kind,
//! as kube-apiserver still serves it beside OpenAPI v3.
//!
//! kubectl reads it for one thing today: a `kind: List` file (what `kubectl
//! get -o yaml` writes for several objects) is validated on the client
//! against v2 — kubectl never asks the server to validate a List — so
//! without this document `kubectl apply -f list.yaml` fails ("the server
//! could not find the requested resource"). kubectl asks for protobuf (the
//! `openapi_v2.Document` message of gnostic's `OpenAPIv2.proto`), other
//! clients for JSON.
//!
//! The definitions are the v3 documents' object schemas (`crate::openapi`),
//! every group-version's together, with `$ref`s pointing into
//! `#/definitions/`. minik simplifies: no paths (kubectl finds kinds by the
//! definitions' `x-kubernetes-group-version-kind`), and a schema keeps only
//! what validation reads (type, format, description, required, properties,
//! items, additionalProperties, `$ref`, vendor extensions); a v3
//! `allOf` around one `$ref` becomes the `$ref`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, StatusCode};
use prost::Message;
use serde_json::{json, Map, Value};

use crate::rest::json_response;
use crate::AppState;

/// The media type of the protobuf answer, as kube-apiserver writes it
/// (kubectl asks for `…spec.v2@v1.0+protobuf`; Go's MIME parser refuses
/// the `@` in an answer).
const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The subset of gnostic's `openapi.v2` messages minik fills (field
/// numbers as in `OpenAPIv2.proto`).
mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Document {
        #[prost(string, tag = "1")]
        pub swagger: String,
        #[prost(message, optional, tag = "2")]
        pub info: Option<Info>,
        #[prost(message, optional, tag = "8")]
        pub paths: Option<Paths>,
        #[prost(message, optional, tag = "9")]
        pub definitions: Option<Definitions>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Info {
        #[prost(string, tag = "1")]
        pub title: String,
        #[prost(string, tag = "2")]
        pub version: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Paths {}

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Definitions {
        #[prost(message, repeated, tag = "1")]
        pub additional_properties: Vec<NamedSchema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedSchema {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<Schema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Schema {
        #[prost(string, tag = "1")]
        pub reference: String,
        #[prost(string, tag = "2")]
        pub format: String,
        #[prost(string, tag = "4")]
        pub description: String,
        #[prost(string, repeated, tag = "19")]
        pub required: Vec<String>,
        #[prost(message, optional, boxed, tag = "21")]
        pub additional_properties: Option<Box<AdditionalPropertiesItem>>,
        #[prost(message, optional, tag = "22")]
        pub r#type: Option<TypeItem>,
        #[prost(message, optional, tag = "23")]
        pub items: Option<ItemsItem>,
        #[prost(message, repeated, tag = "24")]
        pub all_of: Vec<Schema>,
        #[prost(message, optional, tag = "25")]
        pub properties: Option<Properties>,
        #[prost(message, repeated, tag = "31")]
        pub vendor_extension: Vec<NamedAny>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AdditionalPropertiesItem {
        #[prost(oneof = "Additional", tags = "1, 2")]
        pub oneof: Option<Additional>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Additional {
        #[prost(message, tag = "1")]
        Schema(Box<Schema>),
        #[prost(bool, tag = "2")]
        Boolean(bool),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TypeItem {
        #[prost(string, repeated, tag = "1")]
        pub value: Vec<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ItemsItem {
        #[prost(message, repeated, tag = "1")]
        pub schema: Vec<Schema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Properties {
        #[prost(message, repeated, tag = "1")]
        pub additional_properties: Vec<NamedSchema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedAny {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<Any>,
    }

    /// gnostic's `Any`: the value as YAML (JSON is YAML).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        #[prost(string, tag = "2")]
        pub yaml: String,
    }
}

/// Every served group-version's object schemas, references rewritten.
fn definitions(state: &AppState) -> Map<String, Value> {
    let served = state.served();
    let mut all = Map::new();
    for (group, version) in served.group_versions() {
        let (_, schemas) = crate::openapi::group_version(&served, group, version);
        all.extend(schemas);
    }
    all.values_mut().for_each(to_v2);
    all
}

/// A v3 schema made v2, in place: references point into `#/definitions/`,
/// and `{"allOf": [{"$ref": X}], "description": …}` (how the v3 schemas
/// describe a reference) becomes `{"$ref": X, "description": …}` —
/// kubectl's v2 models read `$ref` and know nothing of `allOf`, so a field
/// described that way would go unvalidated.
fn to_v2(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let single_ref = match m.get("allOf") {
                Some(Value::Array(a)) if a.len() == 1 => a[0].get("$ref").cloned(),
                _ => None,
            };
            if let Some(reference) = single_ref {
                m.remove("allOf");
                m.insert("$ref".into(), reference);
            }
            if let Some(Value::String(r)) = m.get_mut("$ref") {
                if let Some(name) = r.strip_prefix("#/components/schemas/") {
                    *r = format!("#/definitions/{name}");
                }
            }
            m.values_mut().for_each(to_v2);
        }
        Value::Array(a) => a.iter_mut().for_each(to_v2),
        _ => {}
    }
}

fn string(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

/// One JSON schema as gnostic's message.
fn schema(v: &Value) -> proto::Schema {
    let types = match v.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        // `["string", "null"]`: v2 has no null type.
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let properties = v
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| proto::Properties {
            additional_properties: p
                .iter()
                .map(|(name, s)| proto::NamedSchema {
                    name: name.clone(),
                    value: Some(schema(s)),
                })
                .collect(),
        });
    let additional_properties = match v.get("additionalProperties") {
        Some(Value::Bool(b)) => Some(proto::Additional::Boolean(*b)),
        Some(s @ Value::Object(_)) => Some(proto::Additional::Schema(Box::new(schema(s)))),
        _ => None,
    }
    .map(|a| Box::new(proto::AdditionalPropertiesItem { oneof: Some(a) }));
    proto::Schema {
        reference: string(v, "$ref"),
        format: string(v, "format"),
        description: string(v, "description"),
        required: v
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        additional_properties,
        r#type: (!types.is_empty()).then_some(proto::TypeItem { value: types }),
        items: v
            .get("items")
            .filter(|i| i.is_object())
            .map(|i| proto::ItemsItem {
                schema: vec![schema(i)],
            }),
        all_of: v
            .get("allOf")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(schema).collect())
            .unwrap_or_default(),
        properties,
        vendor_extension: v
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.starts_with("x-"))
            .map(|(k, x)| proto::NamedAny {
                name: k.clone(),
                value: Some(proto::Any {
                    yaml: x.to_string(),
                }),
            })
            .collect(),
    }
}

/// The document as gnostic's protobuf message.
fn encode(definitions: &Map<String, Value>) -> Vec<u8> {
    proto::Document {
        swagger: "2.0".into(),
        info: Some(proto::Info {
            title: "Kubernetes (minik)".into(),
            version: version(),
        }),
        paths: Some(proto::Paths {}),
        definitions: Some(proto::Definitions {
            additional_properties: definitions
                .iter()
                .map(|(name, s)| proto::NamedSchema {
                    name: name.clone(),
                    value: Some(schema(s)),
                })
                .collect(),
        }),
    }
    .encode_to_vec()
}

fn version() -> String {
    format!(
        "v{}.{}",
        crate::discovery::KUBE_MAJOR,
        crate::discovery::KUBE_MINOR
    )
}

pub async fn document(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let definitions = definitions(&state);
    let wants_protobuf = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|a| a.contains("application/com.github.proto-openapi.spec.v2"));
    if wants_protobuf {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, PROTOBUF)],
            encode(&definitions),
        )
            .into_response();
    }
    json_response(
        StatusCode::OK,
        &json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes (minik)", "version": version()},
            "paths": {},
            "definitions": definitions,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_become_gnostic_messages() {
        let v = json!({
            "type": ["string", "null"],
            "format": "date-time",
            "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "Pod"}],
            "properties": {"spec": {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec"}},
            "additionalProperties": {"type": "string"},
            "required": ["spec"],
        });
        let s = schema(&v);
        assert_eq!(s.r#type.as_ref().unwrap().value, ["string"]);
        assert_eq!(s.format, "date-time");
        assert_eq!(s.required, ["spec"]);
        let spec = &s.properties.as_ref().unwrap().additional_properties[0];
        assert_eq!(spec.name, "spec");
        assert_eq!(
            spec.value.as_ref().unwrap().reference,
            "#/definitions/io.k8s.api.core.v1.PodSpec"
        );
        assert_eq!(
            s.vendor_extension[0].name,
            "x-kubernetes-group-version-kind"
        );
        let back = proto::Schema::decode(s.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, s, "round trip");
    }
}
