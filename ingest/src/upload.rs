//! Agent uploads: a [`Batch`] in, a [`BatchResponse`] out, every reading through the pipeline.
//!
//! Storage is reached only through [`IngestPort`], one transaction of one tenant, which the
//! portal implements on both databases. Idempotency has two levels: a batch id already seen
//! gets its stored answer (or 422 when the payload differs), and an observation re-sent in a
//! new batch (the agent crashed after uploading, before marking it sent) is recognised by its
//! readings' idempotency keys and answered `duplicate`.

use crate::domain::{
    MacAddress, MeterKind, MeterValue, Outcome, ReadingSource, Reason, SerialNumber,
};
use crate::ids::{AgentId, EquipmentId};
use crate::pipeline::{
    self, Counter, DeviceFacts, DeviceMatch, Facts, MeterFacts, PipelineConfig, Submission, Verdict,
};
use crate::wire::{
    Alert, Batch, BatchError, BatchResponse, CounterResult, Observation, ObservationResult,
    ObservationSource, ResultOutcome, Supply,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

/// How a device is looked up: only by what identifies it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceQuery {
    pub serial: Option<SerialNumber>,
    pub mac: Option<MacAddress>,
    pub asset_tag: Option<String>,
}

/// A new batch id, with the tenant's meter kinds to check it against; or one seen before,
/// with the hash of its payload and the answer given.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchClaim {
    New {
        kinds: BTreeSet<MeterKind>,
    },
    Seen {
        payload_hash: String,
        response_json: String,
    },
}

/// A decided reading to store.
#[derive(Debug, Clone, PartialEq)]
pub struct DecidedReading {
    pub equipment_id: EquipmentId,
    pub meter_kind: MeterKind,
    pub segment: i64,
    pub value: MeterValue,
    pub read_at: i64,
    pub source: ReadingSource,
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
    pub evidence_id: Option<i64>,
    pub idempotency_key: String,
    pub agent_id: Option<AgentId>,
    /// The person who sent it (typed in, or confirmed from a photo), to tell them the outcome.
    pub submitted_by: Option<i64>,
}

/// The meters of one device whose facts are wanted, around one read time.
#[derive(Debug, Clone, PartialEq)]
pub struct FactsQuery {
    pub equipment: EquipmentId,
    pub kinds: Vec<MeterKind>,
    pub read_at: i64,
}

/// Where a reading came from, kept with it: for agents the observation and its raw values.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvidence {
    /// `snmp`, `mqtt`, `email` or `photo`.
    pub kind: &'static str,
    pub summary: String,
    pub payload: Option<String>,
    /// The stored file it refers to (a photo).
    pub file_id: Option<i64>,
}

/// A device that reported in at `at`, from `ip` when known.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceReport {
    pub equipment: EquipmentId,
    pub ip: Option<String>,
    pub at: i64,
}

/// What ingest needs from storage, inside one transaction of one tenant. Every question is
/// asked for a whole batch at once: a statement costs more than the rows it touches.
pub trait IngestPort: Send {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Records the batch id as being processed (answering with the tenant's meter kinds, which
    /// a new batch is checked against: one question less per upload), or returns what was
    /// answered for it before.
    fn claim_batch(
        &mut self,
        agent: AgentId,
        batch_id: &str,
        payload_hash: &str,
    ) -> impl Future<Output = Result<BatchClaim, Self::Error>> + Send;
    fn finish_batch(
        &mut self,
        agent: AgentId,
        batch_id: &str,
        response_json: &str,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Meter kinds this tenant defines.
    fn meter_kinds(
        &mut self,
    ) -> impl Future<Output = Result<BTreeSet<MeterKind>, Self::Error>> + Send;
    /// The device each query identifies, in the order asked: a batch asks once.
    fn find_devices(
        &mut self,
        queries: &[DeviceQuery],
    ) -> impl Future<Output = Result<Vec<DeviceMatch>, Self::Error>> + Send;
    /// Whether another tenant has a device with this serial (asked only when this tenant has
    /// none): an agent must never report into another dealer's fleet.
    fn serial_of_other_tenant(
        &mut self,
        serial: &SerialNumber,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;
    /// For each query, the facts of its meters around its read time, by kind (a kind without
    /// history may be left out); in the order asked. No two queries name the same device.
    fn meter_facts(
        &mut self,
        queries: &[FactsQuery],
    ) -> impl Future<Output = Result<Vec<BTreeMap<MeterKind, MeterFacts>>, Self::Error>> + Send;
    /// The readings stored under any of these idempotency keys: (key, value, read time).
    fn readings_by_keys(
        &mut self,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<(String, MeterValue, i64)>, Self::Error>> + Send;
    /// Stores evidence records and returns their ids, in the order given.
    fn store_evidence(
        &mut self,
        evidence: &[NewEvidence],
    ) -> impl Future<Output = Result<Vec<i64>, Self::Error>> + Send;
    /// Stores the readings (of one or many observations), and a review item for each whose verdict is
    /// review. A reading whose key is already stored is left as it is.
    fn store_readings(
        &mut self,
        readings: &[DecidedReading],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    fn record_supplies(
        &mut self,
        equipment: EquipmentId,
        supplies: &[Supply],
        observed_at: i64,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Opens new alerts, refreshes open ones, clears those no longer reported.
    fn record_alerts(
        &mut self,
        equipment: EquipmentId,
        alerts: &[Alert],
        observed_at: i64,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// The devices reported in: their last address and when they last reported.
    fn record_reports(
        &mut self,
        reports: &[DeviceReport],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// An unregistered device, for the dealer's "new devices" list.
    fn record_new_device(
        &mut self,
        agent: Option<AgentId>,
        observation: &Observation,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError<E: std::error::Error + 'static> {
    /// The batch is malformed: 422, nothing stored.
    #[error(transparent)]
    Invalid(#[from] BatchError),
    /// An id seen before with a different payload: 422, nothing stored.
    #[error("{0}")]
    Conflict(String),
    /// A device of another tenant: 403, nothing stored.
    #[error("{0}")]
    ForeignDevice(String),
    #[error("storage: {0}")]
    Port(#[source] E),
}

/// Where an observation came from: it decides the readings' source and idempotency keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'a> {
    /// Uploaded by an enrolled agent (polled over SNMP, or relayed from the site's MQTT).
    Agent(AgentId),
    /// Published straight to the dealer's MQTT broker; `source` names that subscription.
    Mqtt { source: &'a str },
    /// Read from an e-mail: a device's own report, or (`reply`) a customer's answer to the
    /// meter request. `message` identifies the message (its Message-ID, or a hash of its
    /// bytes); the raw message is kept as the readings' evidence.
    Email {
        message: &'a str,
        reply: bool,
        summary: &'a str,
        raw: &'a str,
    },
    /// Read from a photo a person uploaded and confirmed (or corrected): `file` is the stored
    /// photo, `read` what the photo reader made of it (kept as the evidence's payload).
    Photo {
        file: i64,
        summary: &'a str,
        read: &'a str,
        person: i64,
    },
    /// Typed in by a person (the portal's meter form): `person` is who, `summary` says so.
    Manual { person: i64, summary: &'a str },
}

impl Origin<'_> {
    fn key(&self, observation: &str, kind: &MeterKind) -> String {
        match self {
            Self::Agent(agent) => format!("agent:{agent}:{observation}:{kind}"),
            Self::Mqtt { source } => format!("mqtt:{source}:{observation}:{kind}"),
            Self::Email { message, .. } => format!("email:{message}:{observation}:{kind}"),
            Self::Photo { file, .. } => format!("photo:{file}:{observation}:{kind}"),
            Self::Manual { person, .. } => format!("manual:{person}:{observation}:{kind}"),
        }
    }

    fn agent(&self) -> Option<AgentId> {
        match self {
            Self::Agent(a) => Some(*a),
            _ => None,
        }
    }

    /// Whether the device itself reports through this origin, continuously: then its last
    /// report time is what the silence check watches. People's readings and e-mail (monthly
    /// at best) are not a sign of life of a connection.
    fn is_live_connection(&self) -> bool {
        matches!(self, Self::Agent(_) | Self::Mqtt { .. })
    }

    fn person(&self) -> Option<i64> {
        match self {
            Self::Photo { person, .. } | Self::Manual { person, .. } => Some(*person),
            _ => None,
        }
    }

    fn reading_source(&self, obs: &Observation) -> ReadingSource {
        match (self, obs.source) {
            (Self::Agent(_), ObservationSource::Snmp) => ReadingSource::AgentSnmp,
            (Self::Agent(_), ObservationSource::Mqtt) => ReadingSource::AgentMqtt,
            (Self::Mqtt { .. }, _) => ReadingSource::Mqtt,
            (Self::Email { reply: true, .. }, _) => ReadingSource::ReplyEmail,
            (Self::Email { reply: false, .. }, _) => ReadingSource::DeviceEmail,
            (Self::Photo { .. }, _) => ReadingSource::Photo,
            (Self::Manual { .. }, _) => ReadingSource::Manual,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Agent(a) => format!("agent {a}"),
            Self::Mqtt { source } => format!("MQTT source {source}"),
            Self::Email { message, .. } => format!("e-mail {message}"),
            Self::Photo { file, .. } => format!("photo {file}"),
            Self::Manual { person, .. } => format!("person {person}"),
        }
    }

    /// What is kept with the readings of `obs`: for an e-mail the whole message (one record
    /// for all the devices it states), otherwise the observation's raw values.
    fn evidence(&self, obs: &Observation) -> NewEvidence {
        match self {
            Self::Email { summary, raw, .. } => NewEvidence {
                kind: "email",
                summary: (*summary).to_owned(),
                payload: Some((*raw).to_owned()),
                file_id: None,
            },
            Self::Manual { summary, .. } => NewEvidence {
                kind: "manual",
                summary: (*summary).to_owned(),
                payload: Some(
                    serde_json::json!({ "typed": obs.meters, "read_at": obs.read_at }).to_string(),
                ),
                file_id: None,
            },
            Self::Photo {
                file,
                summary,
                read,
                ..
            } => NewEvidence {
                kind: "photo",
                summary: (*summary).to_owned(),
                payload: Some((*read).to_owned()),
                file_id: Some(*file),
            },
            _ => NewEvidence {
                kind: source_name(obs.source),
                summary: format!(
                    "{} observation {} from {}",
                    source_name(obs.source),
                    obs.id,
                    self.describe()
                ),
                payload: obs.evidence.as_ref().map(|e| e.to_string()),
                file_id: None,
            },
        }
    }
}

/// SHA-256 of the batch's canonical JSON: the same batch always hashes the same.
pub fn payload_hash(batch: &Batch) -> String {
    let bytes = serde_json::to_vec(batch).unwrap_or_default();
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Processes one batch from `agent`, received at `received_at`. The caller commits the port's
/// transaction when this returns `Ok`, and rolls it back otherwise.
pub async fn process_batch<P: IngestPort>(
    port: &mut P,
    agent: AgentId,
    batch: &Batch,
    received_at: i64,
    config: &PipelineConfig,
) -> Result<BatchResponse, UploadError<P::Error>> {
    batch.validate()?;
    let hash = payload_hash(batch);
    let kinds = match port
        .claim_batch(agent, &batch.batch_id, &hash)
        .await
        .map_err(UploadError::Port)?
    {
        BatchClaim::Seen {
            payload_hash,
            response_json,
        } => {
            if payload_hash != hash {
                return Err(UploadError::Conflict(format!(
                    "batch {} was already received with different contents",
                    batch.batch_id
                )));
            }
            return serde_json::from_str(&response_json)
                .map_err(|e| UploadError::Conflict(format!("stored answer unreadable: {e}")));
        }
        BatchClaim::New { kinds } => kinds,
    };
    let observations: Vec<&Observation> = batch.observations.iter().collect();
    let results = process_observations(
        port,
        Origin::Agent(agent),
        &observations,
        received_at,
        config,
        &kinds,
    )
    .await?;
    let response = BatchResponse {
        batch_id: batch.batch_id.clone(),
        results,
    };
    let json =
        serde_json::to_string(&response).map_err(|e| UploadError::Conflict(e.to_string()))?;
    port.finish_batch(agent, &batch.batch_id, &json)
        .await
        .map_err(UploadError::Port)?;
    Ok(response)
}

/// Processes one observation (one MQTT message). The caller validated it
/// (`Observation::validate`) and commits the port's transaction on `Ok`.
pub async fn process_observation<P: IngestPort>(
    port: &mut P,
    origin: Origin<'_>,
    obs: &Observation,
    received_at: i64,
    config: &PipelineConfig,
    kinds: &BTreeSet<MeterKind>,
) -> Result<ObservationResult, UploadError<P::Error>> {
    let mut results =
        process_observations(port, origin, &[obs], received_at, config, kinds).await?;
    results.pop().ok_or_else(|| {
        UploadError::Conflict("an observation was processed without a result".into())
    })
}

/// Processes observations of one origin, answering in their order. The caller validated them
/// (ids unique) and commits the port's transaction on `Ok`.
///
/// Set-based: each step asks storage once for the whole set — identify every device, look up
/// every re-sent key, gather every device's facts, store all evidence, all readings, all
/// reports — so a 500-observation batch costs a handful of statements, not thousands. A
/// device reported twice in one set is decided twice, in order, in successive waves: its
/// second reading is judged against the first.
pub async fn process_observations<P: IngestPort>(
    port: &mut P,
    origin: Origin<'_>,
    observations: &[&Observation],
    received_at: i64,
    config: &PipelineConfig,
    kinds: &BTreeSet<MeterKind>,
) -> Result<Vec<ObservationResult>, UploadError<P::Error>> {
    let mut remarks: Vec<Vec<Reason>> = vec![Vec::new(); observations.len()];
    let queries: Vec<DeviceQuery> = observations
        .iter()
        .zip(&mut remarks)
        .map(|(obs, remarks)| device_query(obs, remarks))
        .collect();
    let devices = port
        .find_devices(&queries)
        .await
        .map_err(UploadError::Port)?;
    if devices.len() != observations.len() {
        return Err(UploadError::Conflict(format!(
            "storage identified {} devices for {} observations",
            devices.len(),
            observations.len()
        )));
    }
    let mut results: Vec<Option<ObservationResult>> = vec![None; observations.len()];

    // Unknown devices: refused when another dealer's, otherwise listed as new.
    let mut waves: Vec<Vec<(usize, DeviceFacts)>> = Vec::new();
    let mut seen: BTreeMap<EquipmentId, usize> = BTreeMap::new();
    for (i, device) in devices.into_iter().enumerate() {
        let obs = observations[i];
        match device {
            DeviceMatch::Known(known) => {
                let wave = seen.entry(known.equipment_id).or_insert(0);
                if waves.len() <= *wave {
                    waves.push(Vec::new());
                }
                waves[*wave].push((i, known));
                *wave += 1;
            }
            unknown @ DeviceMatch::Unknown { .. } => {
                if let Some(serial) = &queries[i].serial
                    && port
                        .serial_of_other_tenant(serial)
                        .await
                        .map_err(UploadError::Port)?
                {
                    return Err(UploadError::ForeignDevice(format!(
                        "observation {}: serial {serial} belongs to another dealer's equipment",
                        obs.id
                    )));
                }
                port.record_new_device(origin.agent(), obs)
                    .await
                    .map_err(UploadError::Port)?;
                let facts = Facts {
                    device: unknown,
                    meters: BTreeMap::new(),
                };
                let decision =
                    pipeline::decide(&submission(origin, obs, received_at, kinds), &facts, config);
                let reasons = decision
                    .counters
                    .first()
                    .map(|c| c.reasons.clone())
                    .unwrap_or_else(|| {
                        vec![Reason::new(
                            "identify",
                            Outcome::Flag,
                            "unknown device: listed for the dealer as a new device",
                        )]
                    });
                let mut reasons_all = std::mem::take(&mut remarks[i]);
                reasons_all.extend(reasons);
                results[i] = Some(uniform(obs, ResultOutcome::Review, reasons_all));
            }
        }
    }

    for wave in waves {
        let decided = decide_wave(
            port,
            origin,
            observations,
            &wave,
            received_at,
            config,
            kinds,
        )
        .await?;
        for (i, counters) in decided {
            let overall = counters
                .iter()
                .map(|c| c.outcome)
                .max()
                .unwrap_or(ResultOutcome::Accepted);
            results[i] = Some(ObservationResult {
                id: observations[i].id.clone(),
                outcome: overall,
                counters,
                reasons: std::mem::take(&mut remarks[i]),
            });
        }
    }
    // every observation got a result above: unknown devices, duplicates, or decided
    Ok(results.into_iter().flatten().collect())
}

/// One wave: observations of distinct known devices, decided and stored together. Returns
/// each observation's counter results.
async fn decide_wave<P: IngestPort>(
    port: &mut P,
    origin: Origin<'_>,
    observations: &[&Observation],
    wave: &[(usize, DeviceFacts)],
    received_at: i64,
    config: &PipelineConfig,
    kinds: &BTreeSet<MeterKind>,
) -> Result<Vec<(usize, Vec<CounterResult>)>, UploadError<P::Error>> {
    // Re-sent observations? Their readings are stored under their keys.
    let keys: Vec<String> = wave
        .iter()
        .flat_map(|(i, _)| {
            let obs = observations[*i];
            obs.meters.keys().map(move |k| origin.key(&obs.id, k))
        })
        .collect();
    let found: BTreeMap<String, (MeterValue, i64)> = port
        .readings_by_keys(&keys)
        .await
        .map_err(UploadError::Port)?
        .into_iter()
        .map(|(key, value, at)| (key, (value, at)))
        .collect();
    let mut out = Vec::with_capacity(wave.len());
    let mut fresh = Vec::with_capacity(wave.len());
    for (i, known) in wave {
        let obs = observations[*i];
        let mut stored = 0;
        for (kind, sent) in &obs.meters {
            if let Some((value, at)) = found.get(&origin.key(&obs.id, kind)) {
                if *sent != value.get() as u64 || *at != obs.read_at {
                    return Err(UploadError::Conflict(format!(
                        "observation {} was already received with different values",
                        obs.id
                    )));
                }
                stored += 1;
            }
        }
        if stored > 0 && stored == obs.meters.len() {
            out.push((
                *i,
                uniform(obs, ResultOutcome::Duplicate, Vec::new()).counters,
            ));
        } else {
            fresh.push((*i, known, submission(origin, obs, received_at, kinds)));
        }
    }

    let queries: Vec<FactsQuery> = fresh
        .iter()
        .map(|(i, known, sub)| FactsQuery {
            equipment: known.equipment_id,
            kinds: sub.counters.iter().map(|c| c.kind.clone()).collect(),
            read_at: observations[*i].read_at,
        })
        .collect();
    let all_facts = port
        .meter_facts(&queries)
        .await
        .map_err(UploadError::Port)?;
    if all_facts.len() != queries.len() {
        return Err(UploadError::Conflict(format!(
            "storage gave facts for {} of {} devices",
            all_facts.len(),
            queries.len()
        )));
    }
    let decisions: Vec<_> = fresh
        .iter()
        .zip(all_facts)
        .map(|((_, known, sub), mut meters)| {
            let facts = Facts {
                device: DeviceMatch::Known((*known).clone()),
                meters: sub
                    .counters
                    .iter()
                    .map(|c| (c.kind.clone(), meters.remove(&c.kind).unwrap_or_default()))
                    .collect(),
            };
            let decision = pipeline::decide(sub, &facts, config);
            (facts, decision)
        })
        .collect();

    // Evidence for every observation with something new to store; equal records (the one
    // e-mail behind several devices) are stored once.
    let needs_evidence: Vec<bool> = decisions
        .iter()
        .map(|(_, d)| d.counters.iter().any(|c| c.verdict != Verdict::Duplicate))
        .collect();
    let mut evidence: Vec<NewEvidence> = Vec::new();
    let mut evidence_of: Vec<Option<usize>> = Vec::with_capacity(fresh.len());
    for ((i, _, _), needed) in fresh.iter().zip(&needs_evidence) {
        if !*needed {
            evidence_of.push(None);
            continue;
        }
        let record = origin.evidence(observations[*i]);
        let at = match evidence.iter().position(|e| *e == record) {
            Some(at) => at,
            None => {
                evidence.push(record);
                evidence.len() - 1
            }
        };
        evidence_of.push(Some(at));
    }
    let evidence_ids = port
        .store_evidence(&evidence)
        .await
        .map_err(UploadError::Port)?;
    if evidence_ids.len() != evidence.len() {
        return Err(UploadError::Conflict(
            "storage returned fewer evidence ids than asked".into(),
        ));
    }

    let mut readings = Vec::new();
    let mut reports = Vec::with_capacity(fresh.len());
    for (((i, known, sub), (facts, decision)), evidence_at) in
        fresh.iter().zip(&decisions).zip(evidence_of)
    {
        let obs = observations[*i];
        let evidence_id = evidence_at.map(|at| evidence_ids[at]);
        let mut counters = Vec::new();
        for c in &decision.counters {
            if c.verdict != Verdict::Duplicate {
                readings.push(DecidedReading {
                    equipment_id: known.equipment_id,
                    meter_kind: c.kind.clone(),
                    segment: facts.meters.get(&c.kind).map_or(0, |m| m.segment),
                    value: c.value,
                    read_at: obs.read_at,
                    source: sub.source,
                    verdict: c.verdict,
                    reasons: c.reasons.clone(),
                    evidence_id,
                    idempotency_key: origin.key(&obs.id, &c.kind),
                    agent_id: origin.agent(),
                    submitted_by: origin.person(),
                });
            }
            counters.push(CounterResult {
                kind: c.kind.clone(),
                value: c.value.get() as u64,
                outcome: outcome(c.verdict),
                reasons: c.reasons.clone(),
            });
        }
        // Counters of kinds this dealer does not define are refused, not stored.
        for (kind, value) in obs.meters.iter().filter(|(k, _)| !kinds.contains(*k)) {
            counters.push(CounterResult {
                kind: kind.clone(),
                value: *value,
                outcome: ResultOutcome::Rejected,
                reasons: vec![Reason::new(
                    "identify",
                    Outcome::Reject,
                    format!("meter kind {kind} is not defined for this dealer"),
                )],
            });
        }
        if origin.is_live_connection() {
            reports.push(DeviceReport {
                equipment: known.equipment_id,
                ip: obs.device.ip.clone(),
                at: obs.read_at,
            });
        }
        out.push((*i, counters));
    }
    port.store_readings(&readings)
        .await
        .map_err(UploadError::Port)?;
    for (i, known, _) in &fresh {
        let obs = observations[*i];
        if let Some(supplies) = &obs.supplies {
            port.record_supplies(known.equipment_id, supplies, obs.read_at)
                .await
                .map_err(UploadError::Port)?;
        }
        if let Some(alerts) = &obs.alerts {
            port.record_alerts(known.equipment_id, alerts, obs.read_at)
                .await
                .map_err(UploadError::Port)?;
        }
    }
    port.record_reports(&reports)
        .await
        .map_err(UploadError::Port)?;
    Ok(out)
}

/// A result in which every counter of the observation has the same outcome.
fn uniform(obs: &Observation, outcome: ResultOutcome, reasons: Vec<Reason>) -> ObservationResult {
    let counters = obs
        .meters
        .iter()
        .map(|(kind, value)| CounterResult {
            kind: kind.clone(),
            value: *value,
            outcome,
            reasons: vec![],
        })
        .collect();
    ObservationResult {
        id: obs.id.clone(),
        outcome,
        counters,
        reasons,
    }
}

fn source_name(s: ObservationSource) -> &'static str {
    match s {
        ObservationSource::Snmp => "snmp",
        ObservationSource::Mqtt => "mqtt",
    }
}

fn outcome(v: Verdict) -> ResultOutcome {
    match v {
        Verdict::Accepted => ResultOutcome::Accepted,
        Verdict::Review => ResultOutcome::Review,
        Verdict::Rejected => ResultOutcome::Rejected,
        Verdict::Duplicate => ResultOutcome::Duplicate,
    }
}

fn submission(
    origin: Origin<'_>,
    obs: &Observation,
    received_at: i64,
    kinds: &BTreeSet<MeterKind>,
) -> Submission {
    Submission {
        source: origin.reading_source(obs),
        read_at: obs.read_at,
        received_at,
        counters: obs
            .meters
            .iter()
            .filter(|(k, _)| kinds.contains(*k))
            .filter_map(|(k, v)| {
                let value = MeterValue::from_u64(*v).ok()?;
                Some(Counter {
                    kind: k.clone(),
                    value,
                    confidence: obs.confidence,
                })
            })
            .collect(),
    }
}

/// Parses what identifies the device; an unparsable field is noted and not used.
fn device_query(obs: &Observation, remarks: &mut Vec<Reason>) -> DeviceQuery {
    let d = &obs.device;
    let mut note = |what: &str, e: String| {
        remarks.push(Reason::new(
            "identify",
            Outcome::Note,
            format!("{what} ignored: {e}"),
        ))
    };
    let serial = d.serial.as_deref().and_then(|s| {
        SerialNumber::parse(s)
            .map_err(|e| note("serial", e.to_string()))
            .ok()
    });
    let mac = d.mac.as_deref().and_then(|m| {
        MacAddress::parse(m)
            .map_err(|e| note("MAC", e.to_string()))
            .ok()
    });
    let asset_tag = d
        .asset_tag
        .as_ref()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    DeviceQuery {
        serial,
        mac,
        asset_tag,
    }
}
