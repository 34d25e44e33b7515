//! Supplies: the dealer's catalogue (what fits which model, what it costs), the rules that
//! decide what a customer may order for a device and what it costs them (nothing when the
//! device's contract covers it), orders through their lifecycle, and automatic toner
//! replenishment from the levels the agents report.
//!
//! Everything a customer sends is checked here, on the server: a device of their account, an
//! item that fits it, a quantity within the item's limit, an address that is theirs or valid.

pub mod cart;
pub mod catalogue;
pub mod csv;
pub mod http;
pub mod orders;
pub mod pages;
pub mod replenish;
pub mod store;

use crate::tenants::parse_name;
use chrono::NaiveDate;
use ingest::domain::ParseError;
use std::collections::BTreeSet;

ingest::typed_id!(SupplyItemId);
ingest::typed_id!(OrderId);

/// A dealer's stock-keeping unit: letters, digits and `. - _ /`, at most 40 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Sku, ParseError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ParseError::Empty { what: "SKU" });
        }
        if s.len() > 40 {
            return Err(ParseError::TooLong {
                what: "SKU",
                len: s.chars().count(),
                max: 40,
            });
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'))
        {
            return Err(ParseError::Invalid {
                what: "SKU",
                value: s.escape_debug().to_string(),
                why: "use letters, digits and . - _ / only",
            });
        }
        Ok(Sku(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Sku {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of consumable an item is (`supply_items.kind`).
pub const KINDS: &[&str] = &["toner", "drum", "waste", "staples", "paper", "other"];
/// A cartridge's colour (`supply_items.color`); agents report the same words.
pub const COLOURS: &[&str] = &["black", "cyan", "magenta", "yellow", "other"];
/// What a contract's blanket supply cover includes: what a copier uses up by printing, not the
/// paper and staples that the customer buys.
pub const CONSUMABLE_KINDS: &[&str] = &["toner", "drum", "waste"];

fn one_of(
    what: &'static str,
    table: &[&'static str],
    raw: &str,
) -> Result<&'static str, ParseError> {
    let s = raw.trim().to_ascii_lowercase();
    table
        .iter()
        .find(|k| **k == s)
        .copied()
        .ok_or(ParseError::Invalid {
            what,
            value: s.escape_debug().to_string(),
            why: "not one of the known values",
        })
}

pub fn parse_kind(raw: &str) -> Result<&'static str, ParseError> {
    one_of("kind", KINDS, raw)
}

pub fn parse_colour(raw: &str) -> Result<&'static str, ParseError> {
    one_of("colour", COLOURS, raw)
}

/// A device model an item fits, as make and model ("Ricoh", "MP C3004").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ModelName {
    pub make: String,
    pub model: String,
}

impl ModelName {
    pub fn new(make: &str, model: &str) -> Result<ModelName, ParseError> {
        Ok(ModelName {
            make: parse_name("make", make)?,
            model: parse_name("model", model)?,
        })
    }

    /// Whether a device of this make and model is this one: case and spacing do not matter
    /// ("RICOH  mp c3004" is "Ricoh MP C3004").
    pub fn matches(&self, make: &str, model: &str) -> bool {
        key(&self.make) == key(make) && key(&self.model) == key(model)
    }
}

impl std::fmt::Display for ModelName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.make, self.model)
    }
}

/// Makes of more than one word; any other make is the first word of "make model".
const LONG_MAKES: &[&str] = &[
    "konica minolta",
    "fuji xerox",
    "toshiba tec",
    "kyocera mita",
];

/// "Konica Minolta bizhub C300i" → ("Konica Minolta", "bizhub C300i").
fn split_make(m: &str) -> Option<(&str, &str)> {
    let lower = m.to_lowercase();
    let long = LONG_MAKES
        .iter()
        .find(|l| lower.starts_with(*l) && lower[l.len()..].starts_with(char::is_whitespace));
    match long {
        Some(l) if m.is_char_boundary(l.len()) => Some((&m[..l.len()], m[l.len()..].trim_start())),
        _ => m.split_once(char::is_whitespace),
    }
}

/// How makes and models are compared.
pub fn key(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A price as people write it ("12.34", "12", "0.5") in cents; never negative, at most two
/// decimals, at most 1,000,000.00.
pub fn parse_price(raw: &str) -> Result<i64, ParseError> {
    let s = raw.trim();
    let bad = |why| ParseError::Invalid {
        what: "price",
        value: s.escape_debug().to_string(),
        why,
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad("write it as 12.34"));
    }
    if frac.len() > 2 {
        return Err(bad("at most two decimals"));
    }
    if whole.len() > 7 {
        return Err(bad("at most 1,000,000.00"));
    }
    let cents = whole.parse::<i64>().map_err(|_| bad("write it as 12.34"))? * 100
        + format!("{frac:0<2}").parse::<i64>().unwrap_or(0);
    if cents > 100_000_000 {
        return Err(bad("at most 1,000,000.00"));
    }
    Ok(cents)
}

/// Cents as a price in the catalogue's CSV ("12.34").
pub fn price_text(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// One item of the catalogue, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueItem {
    pub sku: Sku,
    pub oem_part_number: Option<String>,
    pub description: String,
    pub kind: &'static str,
    pub colour: Option<&'static str>,
    pub yield_pages: Option<i64>,
    pub price_cents: i64,
    /// The most one order line may ask for.
    pub max_order_qty: i64,
    pub active: bool,
    pub models: Vec<ModelName>,
}

/// A catalogue item as sent (a CSV row, a JSON body), unchecked.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct RawItem {
    pub sku: String,
    #[serde(default)]
    pub oem_part_number: String,
    pub description: String,
    pub kind: String,
    #[serde(default)]
    pub colour: String,
    #[serde(default)]
    pub yield_pages: String,
    /// "12.34"
    pub price: String,
    #[serde(default)]
    pub max_order_qty: String,
    /// "yes" (default) or "no"
    #[serde(default)]
    pub active: String,
    /// "Make Model; Make Model" — the make is the first word.
    #[serde(default)]
    pub compatible_models: String,
}

impl CatalogueItem {
    pub fn parse(raw: &RawItem) -> Result<CatalogueItem, ParseError> {
        let optional_text = |what, s: &str| -> Result<Option<String>, ParseError> {
            if s.trim().is_empty() {
                Ok(None)
            } else {
                parse_name(what, s).map(Some)
            }
        };
        let whole = |what, s: &str, min: i64, max: i64| -> Result<Option<i64>, ParseError> {
            if s.trim().is_empty() {
                return Ok(None);
            }
            match s.trim().parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(ParseError::Invalid {
                    what,
                    value: s.trim().escape_debug().to_string(),
                    why: "a whole number in range",
                }),
            }
        };
        let kind = parse_kind(&raw.kind)?;
        let colour = match raw.colour.trim() {
            "" => None,
            c => Some(parse_colour(c)?),
        };
        if kind == "toner" && colour.is_none() {
            return Err(ParseError::Invalid {
                what: "colour",
                value: String::new(),
                why: "a toner has a colour (black, cyan, magenta, yellow or other)",
            });
        }
        let active = match raw.active.trim().to_ascii_lowercase().as_str() {
            "" | "yes" | "true" | "1" => true,
            "no" | "false" | "0" => false,
            other => {
                return Err(ParseError::Invalid {
                    what: "active",
                    value: other.escape_debug().to_string(),
                    why: "yes or no",
                });
            }
        };
        let mut models = Vec::new();
        for m in raw.compatible_models.split(';').map(str::trim) {
            if m.is_empty() {
                continue;
            }
            let (make, model) = split_make(m).ok_or(ParseError::Invalid {
                what: "compatible model",
                value: m.escape_debug().to_string(),
                why: "write the make, then the model: Ricoh MP C3004",
            })?;
            models.push(ModelName::new(make, model)?);
        }
        models.sort_by_key(|m| (key(&m.make), key(&m.model)));
        models.dedup_by(|a, b| a.matches(&b.make, &b.model));
        Ok(CatalogueItem {
            sku: Sku::parse(&raw.sku)?,
            oem_part_number: optional_text("OEM part number", &raw.oem_part_number)?,
            description: parse_name("description", &raw.description)?,
            kind,
            colour,
            yield_pages: whole("yield", &raw.yield_pages, 1, 10_000_000)?,
            price_cents: parse_price(&raw.price)?,
            max_order_qty: whole("max order quantity", &raw.max_order_qty, 1, 1_000)?.unwrap_or(10),
            active,
            models,
        })
    }

    /// Back to the shape it was sent in (the CSV export writes what the import reads).
    pub fn raw(&self) -> RawItem {
        RawItem {
            sku: self.sku.to_string(),
            oem_part_number: self.oem_part_number.clone().unwrap_or_default(),
            description: self.description.clone(),
            kind: self.kind.into(),
            colour: self.colour.unwrap_or("").into(),
            yield_pages: self.yield_pages.map(|y| y.to_string()).unwrap_or_default(),
            price: price_text(self.price_cents),
            max_order_qty: self.max_order_qty.to_string(),
            active: if self.active { "yes" } else { "no" }.into(),
            compatible_models: self
                .models
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// What a device's contract says about supplies, as far as ordering needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplyCover {
    pub status: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    /// The contract covers every consumable (toner, drum, waste) that fits the device.
    pub covers_consumables: bool,
    /// Items the contract names as covered, whatever their kind.
    pub items: BTreeSet<SupplyItemId>,
}

impl SupplyCover {
    pub fn in_force(&self, today: NaiveDate) -> bool {
        self.status == "active"
            && self.starts_on <= today
            && self.ends_on.is_none_or(|end| today <= end)
    }
}

/// Whether an item ordered for a device costs the customer nothing: its contract is in force
/// today and names the item, or covers consumables and the item is one.
pub fn covered(
    item: SupplyItemId,
    kind: &str,
    cover: Option<&SupplyCover>,
    today: NaiveDate,
) -> bool {
    cover.is_some_and(|c| {
        c.in_force(today)
            && (c.items.contains(&item)
                || (c.covers_consumables && CONSUMABLE_KINDS.contains(&kind)))
    })
}

/// Whether an item fits a device: the device's make and model is one the item lists.
pub fn fits(models: &[ModelName], make: &str, model: &str) -> bool {
    models.iter().any(|m| m.matches(make, model))
}

/// How many of an item a line asks for: at least one, at most the item's limit.
pub fn check_quantity(quantity: i64, max: i64) -> Result<i64, String> {
    if quantity < 1 {
        Err(format!("order at least 1 (not {quantity})"))
    } else if quantity > max {
        Err(format!(
            "order at most {max} of this item at once (not {quantity})"
        ))
    } else {
        Ok(quantity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn cover(
        status: &str,
        from: &str,
        to: Option<&str>,
        consumables: bool,
        items: &[i64],
    ) -> SupplyCover {
        SupplyCover {
            status: status.into(),
            starts_on: day(from),
            ends_on: to.map(day),
            covers_consumables: consumables,
            items: items.iter().map(|i| SupplyItemId(*i)).collect(),
        }
    }

    #[test]
    fn coverage_follows_the_contract_in_force_on_the_day() {
        let toner = SupplyItemId(1);
        let paper = SupplyItemId(2);
        let on = day("2026-06-15");
        let cases: &[(&str, Option<SupplyCover>, SupplyItemId, &str, bool)] = &[
            ("no contract: billable", None, toner, "toner", false),
            (
                "blanket cover, toner",
                Some(cover("active", "2026-01-01", None, true, &[])),
                toner,
                "toner",
                true,
            ),
            (
                "blanket cover, paper is not a consumable",
                Some(cover("active", "2026-01-01", None, true, &[])),
                paper,
                "paper",
                false,
            ),
            (
                "named item, even paper",
                Some(cover("active", "2026-01-01", None, false, &[2])),
                paper,
                "paper",
                true,
            ),
            (
                "named list without blanket: other toner billable",
                Some(cover("active", "2026-01-01", None, false, &[2])),
                toner,
                "toner",
                false,
            ),
            (
                "not started yet",
                Some(cover("active", "2026-07-01", None, true, &[])),
                toner,
                "toner",
                false,
            ),
            (
                "ended the day before",
                Some(cover("active", "2025-01-01", Some("2026-06-14"), true, &[])),
                toner,
                "toner",
                false,
            ),
            (
                "ends that very day",
                Some(cover("active", "2025-01-01", Some("2026-06-15"), true, &[])),
                toner,
                "toner",
                true,
            ),
            (
                "a draft covers nothing",
                Some(cover("draft", "2026-01-01", None, true, &[1])),
                toner,
                "toner",
                false,
            ),
            (
                "an ended contract covers nothing",
                Some(cover("ended", "2026-01-01", None, true, &[1])),
                toner,
                "toner",
                false,
            ),
        ];
        for (what, c, item, kind, expected) in cases {
            assert_eq!(covered(*item, kind, c.as_ref(), on), *expected, "{what}");
        }
    }

    #[test]
    fn items_fit_the_models_they_list_whatever_the_spelling() {
        let models = vec![
            ModelName::new("Ricoh", "MP C3004").unwrap(),
            ModelName::new("Kyocera", "TASKalfa 3554ci").unwrap(),
        ];
        let cases = [
            ("Ricoh", "MP C3004", true),
            ("RICOH", "mp  c3004", true),
            (" Kyocera ", "TASKalfa 3554ci", true),
            ("Ricoh", "MP C3504", false),
            ("Kyocera", "MP C3004", false),
            ("", "", false),
        ];
        for (make, model, expected) in cases {
            assert_eq!(fits(&models, make, model), expected, "{make} {model}");
        }
        assert!(
            !fits(&[], "Ricoh", "MP C3004"),
            "an item listing no model fits none"
        );
    }

    #[test]
    fn quantities_are_whole_and_within_the_items_limit() {
        assert_eq!(check_quantity(1, 10), Ok(1));
        assert_eq!(check_quantity(10, 10), Ok(10));
        for bad in [0, -1, 11, i64::MAX, i64::MIN] {
            assert!(check_quantity(bad, 10).is_err(), "{bad}");
        }
    }

    #[test]
    fn prices_are_read_exactly_in_cents() {
        for (raw, cents) in [
            ("12.34", 1234),
            ("12", 1200),
            ("0.5", 50),
            (" 7.05 ", 705),
            ("0", 0),
        ] {
            assert_eq!(parse_price(raw).unwrap(), cents, "{raw}");
        }
        for bad in ["-1", "1.234", "abc", "", "1,5", "1e3", "99999999", ".5"] {
            assert!(parse_price(bad).is_err(), "{bad}");
        }
        assert_eq!(price_text(1234), "12.34");
        assert_eq!(price_text(5), "0.05");
    }

    #[test]
    fn a_catalogue_row_is_checked_whole() {
        let raw = RawItem {
            sku: "TN-3004-K".into(),
            description: "Black toner".into(),
            kind: "Toner".into(),
            colour: "black".into(),
            yield_pages: "17500".into(),
            price: "89.90".into(),
            compatible_models: "Ricoh MP C3004; Ricoh MP C3504;ricoh mp c3004".into(),
            ..RawItem::default()
        };
        let item = CatalogueItem::parse(&raw).unwrap();
        assert_eq!(item.kind, "toner");
        assert_eq!(item.price_cents, 8990);
        assert_eq!(item.max_order_qty, 10);
        assert_eq!(item.models.len(), 2, "the same model twice is listed once");
        let two_words = CatalogueItem::parse(&RawItem {
            compatible_models: "Konica Minolta bizhub C300i; Fuji Xerox ApeosPort C3060".into(),
            ..raw.clone()
        })
        .unwrap();
        assert!(
            two_words
                .models
                .iter()
                .any(|m| m.matches("konica minolta", "BIZHUB C300i"))
        );
        assert!(
            two_words
                .models
                .iter()
                .any(|m| m.matches("Fuji Xerox", "ApeosPort C3060"))
        );
        assert_eq!(two_words.models.len(), 2);
        assert_eq!(
            CatalogueItem::parse(&item.raw()).unwrap(),
            item,
            "export reads back"
        );

        let broken = [
            RawItem {
                sku: "bad sku!".into(),
                ..raw.clone()
            },
            RawItem {
                kind: "ink".into(),
                ..raw.clone()
            },
            RawItem {
                colour: String::new(),
                ..raw.clone()
            },
            RawItem {
                price: "-3".into(),
                ..raw.clone()
            },
            RawItem {
                yield_pages: "0".into(),
                ..raw.clone()
            },
            RawItem {
                max_order_qty: "5000".into(),
                ..raw.clone()
            },
            RawItem {
                compatible_models: "Ricoh".into(),
                ..raw.clone()
            },
            RawItem {
                description: " ".into(),
                ..raw.clone()
            },
            RawItem {
                active: "maybe".into(),
                ..raw.clone()
            },
        ];
        for b in broken {
            assert!(CatalogueItem::parse(&b).is_err(), "{b:?}");
        }
    }
}
