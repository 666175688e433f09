//! Answering one DNS query: the cluster zone first, then the upstreams.
//!
//! This is hickory-server's `RequestHandler` for minik (the role CoreDNS's
//! plugin chain `kubernetes cluster.local in-addr.arpa ip6.arpa` →
//! `forward . /etc/resolv.conf` plays in a real cluster). hickory's
//! `Catalog` of `ZoneHandler`s is built for zone files looked up record set
//! by record set; minik's zone is one in-memory snapshot rebuilt from
//! watches, so a direct handler is both shorter and faster: one hash lookup
//! per query. CNAMEs (ExternalName services) are chased, in the zone or
//! upstream, so stub resolvers that do not follow aliases still get an
//! address.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use hickory_proto::op::{Edns, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use crate::forward::Forwarder;
use crate::zone::{Answer, Zone};

/// How many CNAMEs are followed before giving up (loops between ExternalNames).
const MAX_CHASE: u8 = 8;

/// The current zone snapshot; `None` until the watches have listed everything once.
pub type SharedZone = Arc<RwLock<Option<Arc<Zone>>>>;

/// minik-dns's request handler.
pub struct ClusterDns {
    zone: SharedZone,
    domain: LowerName,
    forwarder: Forwarder,
}

/// What goes into a response besides the question.
#[derive(Default)]
struct Resolution {
    code: ResponseCode,
    authoritative: bool,
    truncated: bool,
    answers: Vec<Record>,
    authorities: Vec<Record>,
    additionals: Vec<Record>,
}

impl Resolution {
    fn fail() -> Self {
        Self {
            code: ResponseCode::ServFail,
            ..Default::default()
        }
    }
}

impl ClusterDns {
    pub fn new(zone: SharedZone, domain: &Name, forwarder: Forwarder) -> Self {
        Self {
            zone,
            domain: LowerName::new(domain),
            forwarder,
        }
    }

    fn snapshot(&self) -> Option<Arc<Zone>> {
        self.zone.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Resolves `name`/`qtype`, following CNAMEs up to `MAX_CHASE` times.
    fn resolve<'a>(
        &'a self,
        name: LowerName,
        qtype: RecordType,
        protocol: Protocol,
        depth: u8,
    ) -> Pin<Box<dyn Future<Output = Resolution> + Send + 'a>> {
        Box::pin(async move {
            let answer = match self.snapshot() {
                Some(zone) => zone.lookup(&name, qtype),
                // Not synced yet: our names fail (the client retries); others forward.
                None if self.domain.zone_of(&name) => return Resolution::fail(),
                None => Answer::NotOurs,
            };
            match answer {
                Answer::Records {
                    answers,
                    additionals,
                } => Resolution {
                    code: ResponseCode::NoError,
                    authoritative: true,
                    answers,
                    additionals,
                    ..Default::default()
                },
                Answer::NoData(soa) => Resolution {
                    code: ResponseCode::NoError,
                    authoritative: true,
                    authorities: vec![soa],
                    ..Default::default()
                },
                Answer::NxDomain(soa) => Resolution {
                    code: ResponseCode::NXDomain,
                    authoritative: true,
                    authorities: vec![soa],
                    ..Default::default()
                },
                Answer::Alias(cname) => {
                    let target = match &cname.data {
                        RData::CNAME(c) => LowerName::new(&c.0),
                        _ => return Resolution::fail(),
                    };
                    let mut resolution = Resolution {
                        code: ResponseCode::NoError,
                        authoritative: true,
                        answers: vec![cname],
                        ..Default::default()
                    };
                    if depth < MAX_CHASE {
                        let chased = self.resolve(target, qtype, protocol, depth + 1).await;
                        if chased.code != ResponseCode::ServFail {
                            resolution.code = chased.code;
                            resolution.answers.extend(chased.answers);
                            resolution.additionals.extend(chased.additionals);
                        }
                    }
                    resolution
                }
                Answer::NotOurs => match self.forwarder.forward(name.into(), qtype, protocol).await
                {
                    Some(response) => Resolution {
                        code: response.metadata.response_code,
                        authoritative: false,
                        truncated: response.metadata.truncation,
                        answers: response.answers.clone(),
                        authorities: response.authorities.clone(),
                        additionals: response.additionals.clone(),
                    },
                    None => Resolution::fail(),
                },
            }
        })
    }
}

#[async_trait::async_trait]
impl RequestHandler for ClusterDns {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        // Answer EDNS with EDNS, as every resolver does (version 0, our payload size).
        let edns = request.edns.as_ref().map(|req| {
            let mut edns = Edns::new();
            edns.set_max_payload(req.max_payload().max(512));
            edns.set_version(0);
            edns
        });
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.recursion_available = true;

        let query = match request.request_info() {
            Ok(info)
                if request.metadata.message_type == MessageType::Query
                    && request.metadata.op_code == OpCode::Query =>
            {
                Some(info.query.clone())
            }
            Ok(_) => {
                metadata.response_code = ResponseCode::NotImp;
                None
            }
            Err(_) => {
                metadata.response_code = ResponseCode::FormErr;
                None
            }
        };
        let resolution = match query {
            Some(q) => {
                self.resolve(q.name().clone(), q.query_type(), request.protocol(), 0)
                    .await
            }
            None => Resolution {
                code: metadata.response_code,
                ..Default::default()
            },
        };
        metadata.response_code = resolution.code;
        metadata.authoritative = resolution.authoritative;
        metadata.truncation = resolution.truncated;
        let response = MessageResponseBuilder::new(&request.queries, edns.as_ref()).build(
            metadata,
            resolution.answers.iter(),
            resolution.authorities.iter(),
            std::iter::empty(),
            resolution.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                tracing::debug!(%error, "cannot send a DNS response");
                let mut header = hickory_proto::op::Header {
                    metadata: Metadata::response_from_request(&request.metadata),
                    counts: Default::default(),
                };
                header.metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(header)
            }
        }
    }
}
