//! One SNMP conversation with one device: GETs and bounded walks, each request under a timeout.
//!
//! `snmp2`'s async calls wait forever for an answer (a wrong community is answered with
//! silence), so every request here runs under `tokio::time::timeout`, is asked again up to
//! `retries` times, and the whole conversation under the device's time budget. A device that
//! answers nonsense — garbled or truncated PDUs, someone else's request id, OIDs going
//! backwards, tables without end — is reported as faulty; it never stalls or crashes the agent.

use super::{AuthProtocol, Credentials, Limits, PrivProtocol, SnmpError, Target, V3};
use crate::device::{Snapshot, Value};
use snmp2::{AsyncSession, Oid, Pdu, Version};
use std::fmt::Write as _;
use tokio::time::{Instant, timeout_at};

/// OIDs asked in one GET; a printer's answer to this many stays far below any MTU.
const GET_CHUNK: usize = 16;
/// Rows asked per GETBULK.
const MAX_REPETITIONS: u32 = 24;

/// What one varbind said about its OID.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Value(Value),
    /// noSuchObject, noSuchInstance, NULL.
    Missing,
    EndOfMib,
}

type Varbind = (Vec<u64>, Answer);

/// A device's answer: its varbinds, or an SNMP error status for the request as a whole
/// (v1's noSuchName for one missing OID, tooBig, genErr).
#[derive(Debug)]
enum Reply {
    Varbinds(Vec<Varbind>),
    Refused,
}

#[derive(Debug, Clone, Copy)]
enum Request<'a> {
    Get(&'a [Vec<u64>]),
    Next(&'a [u64]),
    Bulk(&'a [u64]),
}

/// A conversation with one device. Created by [`Client::open`], which also finds the
/// community (v1/v2c) or the engine (v3) that answers.
pub struct Client {
    session: AsyncSession,
    target: Target,
    limits: Limits,
    deadline: Instant,
    /// The community that answered (v1/v2c).
    community: Option<String>,
    user: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("target", &self.target)
            .field("version", &self.session.version())
            .finish_non_exhaustive()
    }
}

pub fn parse_oid(raw: &str) -> Option<Vec<u64>> {
    let arcs: Option<Vec<u64>> = raw
        .trim()
        .trim_start_matches('.')
        .split('.')
        .map(|a| a.parse().ok())
        .collect();
    arcs.filter(|a| a.len() >= 2)
}

pub fn oid_string(arcs: &[u64]) -> String {
    let mut s = String::with_capacity(arcs.len() * 3);
    for (i, a) in arcs.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        let _ = write!(s, "{a}");
    }
    s
}

fn starting_request_id() -> i32 {
    rand::random::<i32>().wrapping_abs().max(1)
}

impl Client {
    /// Opens a conversation. For v2c each community is tried in turn with a GET of
    /// sysObjectID; the first that answers is kept. For v3 the engine is discovered and the
    /// keys are checked before anything is asked.
    pub async fn open(
        target: &Target,
        credentials: &Credentials,
        limits: Limits,
    ) -> Result<Self, SnmpError> {
        let deadline = Instant::now() + limits.budget;
        match credentials {
            Credentials::V1 { community } => {
                Self::open_community(target, Version::V1, community, limits, deadline).await
            }
            Credentials::V2c { communities } => {
                let mut last = None;
                for community in communities {
                    match Self::open_community(target, Version::V2C, community, limits, deadline)
                        .await
                    {
                        Ok(client) => return Ok(client),
                        // silence is what a wrong community gets
                        Err(e) if e.is_no_answer() => last = Some(e),
                        Err(e) => return Err(e),
                    }
                }
                Err(last.unwrap_or_else(|| {
                    SnmpError::Credentials(format!("{target}: no community to try"))
                }))
            }
            Credentials::V3(v3) => Self::open_v3(target, v3, limits, deadline).await,
        }
    }

    async fn connect(
        target: &Target,
        version: Version,
        community: &str,
    ) -> Result<AsyncSession, SnmpError> {
        let address = (target.host.as_str(), target.port);
        let session = match version {
            Version::V1 => {
                AsyncSession::new_v1(address, community.as_bytes(), starting_request_id()).await
            }
            _ => AsyncSession::new_v2c(address, community.as_bytes(), starting_request_id()).await,
        };
        session.map_err(|e| SnmpError::Network {
            target: target.to_string(),
            why: e.to_string(),
        })
    }

    async fn open_community(
        target: &Target,
        version: Version,
        community: &str,
        limits: Limits,
        deadline: Instant,
    ) -> Result<Self, SnmpError> {
        let session = Self::connect(target, version, community).await?;
        let mut client = Self {
            session,
            target: target.clone(),
            limits,
            deadline,
            community: Some(community.to_owned()),
            user: None,
        };
        // sysObjectID: every SNMP agent has it; an answer proves the community.
        let probe = [vec![1, 3, 6, 1, 2, 1, 1, 2, 0]];
        client.request(Request::Get(&probe)).await?;
        Ok(client)
    }

    async fn open_v3(
        target: &Target,
        v3: &V3,
        limits: Limits,
        deadline: Instant,
    ) -> Result<Self, SnmpError> {
        use snmp2::v3::{Auth, AuthProtocol as A, Cipher, KeyExtension, Security};
        let (auth_protocol, auth_password) = match &v3.auth {
            Some((p, pw)) => (
                match p {
                    AuthProtocol::Md5 => A::Md5,
                    AuthProtocol::Sha1 => A::Sha1,
                },
                pw.as_bytes(),
            ),
            None => (A::Md5, &[][..]),
        };
        let auth = match (&v3.auth, &v3.privacy) {
            (None, None) => Auth::NoAuthNoPriv,
            (Some(_), None) => Auth::AuthNoPriv,
            (Some(_), Some((cipher, pw))) => Auth::AuthPriv {
                cipher: match cipher {
                    PrivProtocol::Des => Cipher::Des,
                    PrivProtocol::Aes128 => Cipher::Aes128,
                },
                privacy_password: pw.as_bytes().to_vec(),
            },
            (None, Some(_)) => {
                return Err(SnmpError::Credentials(
                    "SNMPv3 privacy needs authentication".into(),
                ));
            }
        };
        let security = Security::new(v3.user.as_bytes(), auth_password)
            .with_auth(auth)
            .with_auth_protocol(auth_protocol)
            .with_key_extension_method(KeyExtension::Blumenthal);
        let address = (target.host.as_str(), target.port);
        let session = AsyncSession::new_v3(address, starting_request_id(), security)
            .await
            .map_err(|e| SnmpError::Network {
                target: target.to_string(),
                why: e.to_string(),
            })?;
        let mut client = Self {
            session,
            target: target.clone(),
            limits,
            deadline,
            community: None,
            user: Some(v3.user.clone()),
        };
        client.discover_engine().await?;
        let probe = [vec![1, 3, 6, 1, 2, 1, 1, 2, 0]];
        match client.request(Request::Get(&probe)).await {
            Ok(_) => Ok(client),
            // it answered discovery, so it is there: it dropped what it could not decrypt
            Err(e) if e.is_no_answer() && v3.privacy.is_some() => Err(SnmpError::Auth {
                target: target.to_string(),
                user: v3.user.clone(),
                why: "the device answered engine discovery but not the encrypted request: \
                      wrong privacy password or protocol"
                    .into(),
            }),
            Err(e) => Err(e),
        }
    }

    /// v3 engine discovery, under the same timeout and retries as any request.
    async fn discover_engine(&mut self) -> Result<(), SnmpError> {
        let tries = self.limits.retries + 1;
        for _ in 0..tries {
            match timeout_at(
                self.deadline.min(Instant::now() + self.limits.timeout),
                self.session.init(),
            )
            .await
            {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => return Err(self.classify(e)),
                Err(_) if Instant::now() >= self.deadline => return Err(self.over_budget()),
                Err(_) => continue,
            }
        }
        Err(self.no_answer(tries))
    }

    pub fn community(&self) -> Option<&str> {
        self.community.as_deref()
    }

    fn faulty(&self, why: impl Into<String>) -> SnmpError {
        SnmpError::Faulty {
            target: self.target.to_string(),
            why: why.into(),
        }
    }

    fn no_answer(&self, tries: u32) -> SnmpError {
        SnmpError::NoAnswer {
            target: self.target.to_string(),
            tries,
            timeout_ms: self.limits.timeout.as_millis(),
        }
    }

    fn over_budget(&self) -> SnmpError {
        self.faulty(format!(
            "still answering after {:?}, the limit for one device",
            self.limits.budget
        ))
    }

    fn classify(&self, e: snmp2::Error) -> SnmpError {
        use snmp2::Error as E;
        match e {
            E::AuthFailure(kind) => SnmpError::Auth {
                target: self.target.to_string(),
                user: self.user.clone().unwrap_or_default(),
                why: format!("{kind:?} (wrong user, keys or protocols)"),
            },
            E::Crypto(why) => SnmpError::Auth {
                target: self.target.to_string(),
                user: self.user.clone().unwrap_or_default(),
                why: format!("cannot decrypt the answer ({why}): wrong privacy key or protocol"),
            },
            E::Send => SnmpError::Network {
                target: self.target.to_string(),
                why: "send failed".into(),
            },
            // a refused port (ICMP unreachable) surfaces as a receive error
            E::Receive => SnmpError::Network {
                target: self.target.to_string(),
                why: "nothing listens there (connection refused)".into(),
            },
            other => self.faulty(format!("malformed answer: {other:?}")),
        }
    }

    /// Sends one request and returns its varbinds, asking again after a timeout, a garbled
    /// answer or one meant for another request.
    async fn request(&mut self, request: Request<'_>) -> Result<Reply, SnmpError> {
        let tries = self.limits.retries + 1;
        let mut last_fault = None;
        for _ in 0..tries {
            if Instant::now() >= self.deadline {
                return Err(self.over_budget());
            }
            let until = self.deadline.min(Instant::now() + self.limits.timeout);
            let result = timeout_at(until, send(&mut self.session, request)).await;
            match result {
                Ok(Ok(reply)) => return Ok(reply),
                Ok(Err(e)) => {
                    use snmp2::Error as E;
                    match e {
                        // someone else's answer, or a garbled one: ask again
                        E::RequestIdMismatch
                        | E::CommunityMismatch
                        | E::AsnParse
                        | E::AsnInvalidLen
                        | E::AsnWrongType
                        | E::AsnUnsupportedType
                        | E::AsnEof
                        | E::AsnIntOverflow
                        | E::ValueOutOfRange
                        | E::BufferOverflow
                        | E::UnsupportedVersion => last_fault = Some(e),
                        // v3: the engine's clock moved; snmp2 resynchronised, ask again
                        E::AuthUpdated => {}
                        other => return Err(self.classify(other)),
                    }
                }
                // cut short by the device's budget, not by the request's timeout
                Err(_) if Instant::now() >= self.deadline => return Err(self.over_budget()),
                Err(_) => {}
            }
        }
        Err(match last_fault {
            Some(snmp2::Error::RequestIdMismatch) => {
                self.faulty("answers carry the wrong request id")
            }
            Some(e) => self.faulty(format!("malformed answer: {e:?}")),
            None => self.no_answer(tries),
        })
    }

    /// GETs `oids` into `snapshot`. OIDs the device does not have are left out.
    pub async fn get_into(
        &mut self,
        snapshot: &mut Snapshot,
        oids: &[&str],
    ) -> Result<(), SnmpError> {
        let parsed: Vec<Vec<u64>> = oids.iter().filter_map(|o| parse_oid(o)).collect();
        for chunk in parsed.chunks(GET_CHUNK) {
            match self.request(Request::Get(chunk)).await? {
                Reply::Varbinds(varbinds) => store(snapshot, varbinds),
                // v1 refuses a whole GET for one missing OID: ask one at a time
                Reply::Refused if chunk.len() > 1 => {
                    for oid in chunk {
                        if let Reply::Varbinds(varbinds) = self
                            .request(Request::Get(std::slice::from_ref(oid)))
                            .await?
                        {
                            store(snapshot, varbinds);
                        }
                    }
                }
                Reply::Refused => {}
            }
        }
        Ok(())
    }

    /// The first OID the device has under `root`, if any (one GETNEXT).
    pub async fn first_under(&mut self, root: &str) -> Result<Option<String>, SnmpError> {
        let root_arcs =
            parse_oid(root).ok_or_else(|| SnmpError::Address(format!("bad OID '{root}'")))?;
        match self.request(Request::Next(&root_arcs)).await? {
            Reply::Varbinds(varbinds) => Ok(varbinds.into_iter().next().and_then(|(oid, a)| {
                (matches!(a, Answer::Value(_)) && oid.starts_with(&root_arcs) && oid != root_arcs)
                    .then(|| oid_string(&oid))
            })),
            Reply::Refused => Ok(None),
        }
    }

    /// Walks the subtree under `root` into `snapshot`: GETBULK (GETNEXT on v1) until the
    /// answers leave the subtree. OIDs must increase and the rows stay under `max_rows`.
    pub async fn walk_into(
        &mut self,
        snapshot: &mut Snapshot,
        root: &str,
    ) -> Result<(), SnmpError> {
        let root_arcs =
            parse_oid(root).ok_or_else(|| SnmpError::Address(format!("bad OID '{root}'")))?;
        let mut current = root_arcs.clone();
        let mut rows = 0usize;
        loop {
            let request = if self.session.version() == Version::V1 {
                Request::Next(&current)
            } else {
                Request::Bulk(&current)
            };
            let varbinds = match self.request(request).await? {
                Reply::Varbinds(v) if !v.is_empty() => v,
                // v1 ends a walk with noSuchName
                _ => return Ok(()),
            };
            for (oid, answer) in varbinds {
                if answer == Answer::EndOfMib || !oid.starts_with(&root_arcs) || oid == root_arcs {
                    return Ok(());
                }
                if oid <= current {
                    return Err(self.faulty(format!(
                        "OIDs go backwards under {root}: {} after {}",
                        oid_string(&oid),
                        oid_string(&current)
                    )));
                }
                rows += 1;
                if rows > self.limits.max_rows {
                    return Err(self.faulty(format!(
                        "more than {} rows under {root}: a table without end",
                        self.limits.max_rows
                    )));
                }
                if let Answer::Value(v) = answer {
                    snapshot.insert(&oid_string(&oid), v);
                }
                current = oid;
            }
        }
    }
}

fn store(snapshot: &mut Snapshot, varbinds: Vec<Varbind>) {
    for (oid, answer) in varbinds {
        if let Answer::Value(v) = answer {
            snapshot.insert(&oid_string(&oid), v);
        }
    }
}

/// One request on the wire; the answer copied out of `snmp2`'s receive buffer.
async fn send(session: &mut AsyncSession, request: Request<'_>) -> Result<Reply, snmp2::Error> {
    let to_oid = |arcs: &[u64]| Oid::from(arcs).map_err(|_| snmp2::Error::ValueOutOfRange);
    let pdu = match request {
        Request::Get(oids) => {
            let owned: Vec<Oid<'static>> =
                oids.iter().map(|o| to_oid(o)).collect::<Result<_, _>>()?;
            let refs: Vec<&Oid<'_>> = owned.iter().collect();
            session.get_many(&refs).await?
        }
        Request::Next(oid) => session.getnext(&to_oid(oid)?).await?,
        Request::Bulk(oid) => {
            session
                .getbulk(&[&to_oid(oid)?], 0, MAX_REPETITIONS)
                .await?
        }
    };
    varbinds(&pdu)
}

fn varbinds(pdu: &Pdu<'_>) -> Result<Reply, snmp2::Error> {
    if pdu.error_status != 0 {
        return Ok(Reply::Refused);
    }
    let mut out = Vec::new();
    for (oid, value) in pdu.varbinds.clone() {
        let arcs: Vec<u64> = oid.iter().ok_or(snmp2::Error::AsnIntOverflow)?.collect();
        out.push((arcs, answer(value)));
    }
    Ok(Reply::Varbinds(out))
}

fn answer(value: snmp2::Value<'_>) -> Answer {
    use snmp2::Value as V;
    match value {
        V::Integer(i) => Answer::Value(Value::Int(i)),
        V::Counter32(n) | V::Unsigned32(n) | V::Timeticks(n) => Answer::Value(Value::Int(n.into())),
        V::Counter64(n) => match i64::try_from(n) {
            Ok(n) => Answer::Value(Value::Int(n)),
            Err(_) => Answer::Missing,
        },
        V::OctetString(b) | V::Opaque(b) => Answer::Value(Value::Bytes(b.to_vec())),
        V::IpAddress(a) => Answer::Value(Value::Bytes(a.to_vec())),
        V::ObjectIdentifier(o) => Answer::Value(Value::Oid(o.to_id_string())),
        V::Boolean(b) => Answer::Value(Value::Int(i64::from(b))),
        V::EndOfMibView => Answer::EndOfMib,
        _ => Answer::Missing,
    }
}
