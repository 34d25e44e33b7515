//! The catalogue as CSV, for dealers who keep it in a spreadsheet: the export writes what the
//! import reads. An import is checked whole before anything is stored — one bad row refuses
//! the file, naming every bad row — and then adds new SKUs and replaces the ones it names;
//! items it does not name are left as they are (set `active` to `no` to stop selling one).

use super::{CatalogueItem, RawItem};
use ingest::email::vendors::csv::rows;
use std::collections::BTreeSet;

/// The columns, in the order the export writes them. `sku`, `description`, `kind` and
/// `price` are required in an import; the others may be left out.
pub const COLUMNS: &[&str] = &[
    "sku",
    "oem_part_number",
    "description",
    "kind",
    "colour",
    "yield_pages",
    "price",
    "max_order_qty",
    "active",
    "compatible_models",
];
const REQUIRED: &[&str] = &["sku", "description", "kind", "price"];
/// The most rows one import takes.
pub const MAX_ROWS: usize = 10_000;

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("the file is empty")]
    Empty,
    #[error("the first line must name the columns; {0}")]
    Header(String),
    #[error("at most {MAX_ROWS} rows in one file")]
    TooManyRows,
    #[error("nothing was imported: {}", .0.join("; "))]
    Rows(Vec<String>),
}

/// Spreadsheets run a cell that starts like a formula; such text is written with a leading
/// apostrophe, which the import takes off again.
fn neutral(cell: &str) -> String {
    if cell.starts_with(['=', '+', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

fn restored(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

fn quoted(cell: &str) -> String {
    let cell = neutral(cell);
    if cell.contains([',', '"', '\n', '\r']) || cell.starts_with('\'') {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

pub fn export(items: &[CatalogueItem]) -> String {
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    for i in items {
        let r = i.raw();
        let cells = [
            &r.sku,
            &r.oem_part_number,
            &r.description,
            &r.kind,
            &r.colour,
            &r.yield_pages,
            &r.price,
            &r.max_order_qty,
            &r.active,
            &r.compatible_models,
        ];
        out.push_str(&cells.map(|c| quoted(c)).join(","));
        out.push_str("\r\n");
    }
    out
}

/// Every row of the file, checked; nothing when any row is bad.
pub fn import(text: &str) -> Result<Vec<CatalogueItem>, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let table: Vec<Vec<String>> = rows(text)
        .into_iter()
        .filter(|r| r.iter().any(|c| !c.trim().is_empty()))
        .collect();
    let Some((head, body)) = table.split_first() else {
        return Err(ImportError::Empty);
    };
    if body.len() > MAX_ROWS {
        return Err(ImportError::TooManyRows);
    }
    let head: Vec<String> = head.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    for h in &head {
        if !COLUMNS.contains(&h.as_str()) {
            return Err(ImportError::Header(format!(
                "there is no column '{h}' (known: {})",
                COLUMNS.join(", ")
            )));
        }
    }
    for r in REQUIRED {
        if !head.iter().any(|h| h == r) {
            return Err(ImportError::Header(format!("the column '{r}' is missing")));
        }
    }
    let mut seen = BTreeSet::new();
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for (n, row) in body.iter().enumerate() {
        // the header is line 1
        let line = n + 2;
        if row.len() > head.len() {
            problems.push(format!(
                "row {line}: {} cells for {} columns",
                row.len(),
                head.len()
            ));
            continue;
        }
        let cell = |name: &str| {
            head.iter()
                .position(|h| h == name)
                .and_then(|i| row.get(i))
                .map(|c| restored(c).to_owned())
                .unwrap_or_default()
        };
        let raw = RawItem {
            sku: cell("sku"),
            oem_part_number: cell("oem_part_number"),
            description: cell("description"),
            kind: cell("kind"),
            colour: cell("colour"),
            yield_pages: cell("yield_pages"),
            price: cell("price"),
            max_order_qty: cell("max_order_qty"),
            active: cell("active"),
            compatible_models: cell("compatible_models"),
        };
        match CatalogueItem::parse(&raw) {
            Ok(item) if !seen.insert(item.sku.clone()) => {
                problems.push(format!("row {line}: {} is listed twice", item.sku));
            }
            Ok(item) => items.push(item),
            Err(e) => problems.push(format!("row {line}: {e}")),
        }
        if problems.len() >= 20 {
            problems.push("…".into());
            break;
        }
    }
    if problems.is_empty() {
        Ok(items)
    } else {
        Err(ImportError::Rows(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "sku,description,kind,colour,price,compatible_models,yield_pages\r\n\
        TN-K,\"Black toner, high yield\",toner,black,89.90,Ricoh MP C3004; Ricoh MP C3504,17500\r\n\
        PAPER-A4,Paper A4 (5 reams),paper,,24.00,,\r\n";

    #[test]
    fn an_export_reads_back_as_the_same_catalogue() {
        let items = import(FILE).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].description, "Black toner, high yield");
        assert_eq!(items[0].models.len(), 2);
        let again = import(&export(&items)).unwrap();
        assert_eq!(again, items);
    }

    #[test]
    fn formulas_are_not_run_by_a_spreadsheet_and_survive_the_round_trip() {
        let mut items = import(FILE).unwrap();
        items[1].description = "=HYPERLINK(\"http://evil\")".into();
        let text = export(&items);
        assert!(text.contains("\"'=HYPERLINK"), "{text}");
        assert_eq!(
            import(&text).unwrap()[1].description,
            "=HYPERLINK(\"http://evil\")"
        );
    }

    #[test]
    fn one_bad_row_refuses_the_file_and_names_every_bad_row() {
        let bad = format!(
            "{FILE}X-1,Thing,ink,,1.00,,\r\nTN-K,Again,toner,black,1.00,,\r\nY-2,Other,drum,,-5,,\r\n"
        );
        match import(&bad) {
            Err(ImportError::Rows(p)) => {
                assert_eq!(p.len(), 3, "{p:?}");
                assert!(p[0].starts_with("row 4:") && p[0].contains("kind"), "{p:?}");
                assert!(p[1].contains("listed twice"), "{p:?}");
                assert!(
                    p[2].starts_with("row 6:") && p[2].contains("price"),
                    "{p:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_header_is_checked() {
        assert_eq!(import(""), Err(ImportError::Empty));
        assert_eq!(import("\r\n ,\r\n"), Err(ImportError::Empty));
        assert!(
            matches!(import("sku,description,kind\r\nA,B,toner\r\n"), Err(ImportError::Header(m)) if m.contains("price"))
        );
        assert!(
            matches!(import("sku,description,kind,price,colour_code\r\n"), Err(ImportError::Header(m)) if m.contains("colour_code"))
        );
        assert!(matches!(
            import("sku,description,kind,price\r\nA,B,paper,1,extra\r\n"),
            Err(ImportError::Rows(_))
        ));
    }
}
