//! Copiers that answer SNMP v2c from a recording: the demo's fleet (`printyx demo`) and the
//! fleet benchmark. GET, GETNEXT and GETBULK over a sorted OID table whose values may change
//! between requests — counters that advance, toner that runs down. The agent itself never
//! uses this; it lives here because it speaks the same `Snapshot` the agent reads.

pub mod ber;

use crate::device::{Snapshot, Value};
use std::collections::BTreeMap;

/// One device's OID table: sorted by OID, values already BER-encoded.
#[derive(Debug, Clone, Default)]
pub struct Mib(Vec<(Vec<u64>, Vec<u8>)>);

fn arcs(oid: &str) -> Option<Vec<u64>> {
    let arcs: Option<Vec<u64>> = oid
        .trim_start_matches('.')
        .split('.')
        .map(|a| a.parse().ok())
        .collect();
    arcs.filter(|a| a.len() >= 2)
}

/// A value as the wire carries it; `None` for an OID value that is not a valid OID.
fn encode(value: &Value) -> Option<Vec<u8>> {
    Some(match value {
        Value::Int(i) => ber::int(*i),
        Value::Text(t) => ber::octets(t.as_bytes()),
        Value::Bytes(b) => ber::octets(b),
        Value::Oid(o) => ber::oid(&arcs(o)?),
    })
}

impl Mib {
    /// Every OID of the recording that can be encoded.
    pub fn from_snapshot(snapshot: &Snapshot) -> Self {
        let rows: BTreeMap<Vec<u64>, Vec<u8>> = snapshot
            .iter()
            .filter_map(|(oid, value)| Some((arcs(oid)?, encode(value)?)))
            .collect();
        Self(rows.into_iter().collect())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sets (or adds) one OID's value; an OID that does not parse is ignored.
    pub fn set(&mut self, oid: &str, value: &Value) {
        let (Some(key), Some(encoded)) = (arcs(oid), encode(value)) else {
            return;
        };
        match self.0.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => self.0[i].1 = encoded,
            Err(i) => self.0.insert(i, (key, encoded)),
        }
    }

    /// The Response to one request datagram; `None` for anything that is not a v1/v2c
    /// GET, GETNEXT or GETBULK (a real device stays silent too).
    pub fn answer(&self, request: &[u8]) -> Option<Vec<u8>> {
        use snmp2::MessageType;
        let pdu = snmp2::Pdu::from_bytes(request).ok()?;
        let asked: Vec<Vec<u64>> = pdu
            .varbinds
            .clone()
            .filter_map(|(o, _)| o.iter().map(Iterator::collect))
            .collect();
        let mib = &self.0;
        let next = |after: &[u64], n: usize| -> Vec<(Vec<u64>, Vec<u8>)> {
            let start = mib.partition_point(|(o, _)| o.as_slice() <= after);
            let mut rows: Vec<_> = mib[start..].iter().take(n).cloned().collect();
            if rows.len() < n {
                rows.push((after.to_vec(), ber::end_of_mib_view()));
            }
            rows
        };
        let varbinds: Vec<(Vec<u64>, Vec<u8>)> = match pdu.message_type {
            MessageType::GetRequest => asked
                .iter()
                .map(
                    |o| match mib.binary_search_by(|(k, _)| k.as_slice().cmp(o)) {
                        Ok(i) => mib[i].clone(),
                        Err(_) => (o.clone(), ber::no_such_instance()),
                    },
                )
                .collect(),
            MessageType::GetNextRequest => asked.iter().flat_map(|o| next(o, 1)).collect(),
            // a GetBulk carries max-repetitions where other PDUs have the error index
            MessageType::GetBulkRequest => asked
                .iter()
                .flat_map(|o| next(o, pdu.error_index.clamp(1, 50) as usize))
                .collect(),
            _ => return None,
        };
        Some(ber::response(pdu.req_id, pdu.community, &varbinds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::profiles;
    use crate::snmp::{Credentials, Limits, Target};

    const REC: &str = "1.3.6.1.2.1.1.1.0|4|RICOH Aficio MP C3002 1.00 / RICOH Network Printer\n\
        1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.367.1.1\n\
        1.3.6.1.2.1.43.10.2.1.4.1.1|65|1000\n";

    #[tokio::test]
    async fn a_changed_counter_is_what_the_agent_reads_next() {
        let mut mib = Mib::from_snapshot(&Snapshot::from_snmprec(REC).unwrap());
        assert_eq!(mib.len(), 3);
        mib.set("1.3.6.1.2.1.43.10.2.1.4.1.1", &Value::Int(1234));
        mib.set("1.3.6.1.2.1.43.5.1.1.17.1", &Value::Text("SIM0001".into()));
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let device = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let (n, from) = socket.recv_from(&mut buf).await.unwrap();
                if let Some(reply) = mib.answer(&buf[..n]) {
                    socket.send_to(&reply, from).await.unwrap();
                }
            }
        });
        let target = Target::parse(&addr.to_string()).unwrap();
        let credentials = Credentials::V2c {
            communities: vec!["public".into()],
        };
        let polled = crate::snmp::poll::poll(
            &target,
            &credentials,
            Limits::default(),
            &profiles().unwrap(),
        )
        .await
        .unwrap();
        device.abort();
        let report = polled.report;
        assert_eq!(report.identity.vendor.as_deref(), Some("Ricoh"));
        assert_eq!(report.identity.serial.as_deref(), Some("SIM0001"));
        assert_eq!(report.meters.values().copied().collect::<Vec<_>>(), [1234]);
    }

    #[test]
    fn garbage_gets_no_answer() {
        let mib = Mib::from_snapshot(&Snapshot::from_snmprec(REC).unwrap());
        assert!(mib.answer(b"\x30\x03\x02\x01").is_none());
        assert!(mib.answer(&[]).is_none());
    }
}
