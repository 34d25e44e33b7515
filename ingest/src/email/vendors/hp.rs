//! HP AutoSend: configuration and usage as an XML attachment. Supplies' page counts are per
//! cartridge, not meters; duplex sheets are not a meter.

use crate::email::report::{Builder, DeviceReading};
use crate::email::time;
use chrono::{DateTime, FixedOffset};

pub fn extract(text: &str, header: Option<DateTime<FixedOffset>>) -> Vec<DeviceReading> {
    if !text.contains("<AutoSendReport") {
        return Vec::new();
    }
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 10_000,
    };
    let Ok(doc) = roxmltree::Document::parse_with_options(text, options) else {
        return Vec::new();
    };
    let find = |name: &str| doc.descendants().find(|n| n.has_tag_name(name));
    let text_of = |name: &str| find(name).and_then(|n| n.text()).map(str::trim);
    let attr = |name: &str, a: &str| find(name).and_then(|n| n.attribute(a));
    let Some(mut b) = text_of("SerialNumber").and_then(|s| Builder::new(s, 0.97)) else {
        return Vec::new();
    };
    let at = text_of("ReportTime")
        .and_then(time::parse_with_offset)
        .or(header);
    b = b
        .model(text_of("ProductName"))
        .read_at(at)
        .counter("total", text_of("TotalImpressions"))
        .counter("mono", text_of("MonochromeImpressions"))
        .counter("color", text_of("ColorImpressions"))
        .counter("copy_mono", attr("CopyImpressions", "mono"))
        .counter("copy_color", attr("CopyImpressions", "color"))
        .counter("print_mono", attr("PrintImpressions", "mono"))
        .counter("print_color", attr("PrintImpressions", "color"))
        .counter("fax", text_of("FaxImpressions"))
        .counter("scan", text_of("ScanImages"));
    if !b.has("total") {
        return Vec::new();
    }
    b.build().into_iter().collect()
}
