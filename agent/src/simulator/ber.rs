//! Just enough BER to answer SNMP requests in tests and the simulated fleet: a v2c Response
//! PDU with INTEGER, OCTET STRING, OID and exception values.

/// BER: tag, definite length, body.
pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(body);
    out
}

pub fn int(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7
        && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    tlv(0x02, &bytes[start..])
}

pub fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &arc in &arcs[2..] {
        let mut chunk = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            chunk.push(((rest & 0x7f) as u8) | 0x80);
            rest >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    tlv(0x06, &body)
}

pub fn response(req_id: i32, community: &[u8], varbinds: &[(Vec<u64>, Vec<u8>)]) -> Vec<u8> {
    let list: Vec<u8> = varbinds
        .iter()
        .flat_map(|(o, v)| tlv(0x30, &[oid(o), v.clone()].concat()))
        .collect();
    let pdu = tlv(
        0xA2,
        &[int(i64::from(req_id)), int(0), int(0), tlv(0x30, &list)].concat(),
    );
    tlv(0x30, &[int(1), tlv(0x04, community), pdu].concat())
}

pub fn octets(bytes: &[u8]) -> Vec<u8> {
    tlv(0x04, bytes)
}

/// noSuchInstance, for a GET of an OID the device does not have.
pub fn no_such_instance() -> Vec<u8> {
    vec![0x81, 0x00]
}

/// endOfMibView, for a GETNEXT/GETBULK past the last OID.
pub fn end_of_mib_view() -> Vec<u8> {
    vec![0x82, 0x00]
}
